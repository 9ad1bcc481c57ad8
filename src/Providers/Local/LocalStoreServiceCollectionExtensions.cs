using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Local store with InputPipeline.Checkpointing.</summary>
public static class LocalStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>Local</c> provider: <see cref="LocalStoreOptions"/> bound from the <c>Local</c> subsection of the
    /// builder's configuration (<c>InputPipelineCheckpointing:Local</c>), validated on start (when <c>Local</c> is the
    /// selected provider) with messages naming the key, and a <see cref="LocalInputStateStore"/> created from them when <c>Provider</c> is <c>Local</c>.
    /// <c>AddInputPipelineCheckpointing</c> calls it already; calling it again is safe.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddLocalStore(this IInputPipelineCheckpointingBuilder builder, Action<LocalStoreOptions>? configure = null) =>
        StoreRegistration.Add<LocalStoreOptions, LocalStoreOptionsValidator>(builder, LocalInputStateStore.LocalProviderName, (options, section) => options.Bind(section), configure, (_, options) => new LocalInputStateStore(options));
}

/// <summary>Validates <see cref="LocalStoreOptions"/> on start; the failure message names the configuration key.</summary>
public sealed class LocalStoreOptionsValidator : IValidateOptions<LocalStoreOptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, LocalStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (CheckpointOptionsException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
