using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Local store with InputPipeline.Checkpointing.</summary>
public static class LocalStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>Local</c> provider, a <see cref="LocalInputStateStore"/> over a directory, with its
    /// <see cref="LocalStoreOptions"/> (checked by <see cref="LocalStoreOptionsValidator"/>). <c>AddInputPipelineCheckpointing</c>
    /// calls it already, as Local is the embedded default.
    /// </summary>
    /// <include file="../Shared/StoreRegistration.xml" path="doc/add/*"/>
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
