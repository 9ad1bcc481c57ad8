using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing;

/// <summary>A store provider registered by name; <c>InputPipelineCheckpointing:Provider</c> selects one.</summary>
public sealed class InputStateStoreRegistration
{
    /// <summary>Creates a registration.</summary>
    /// <param name="providerName">The provider name, for example <c>S3</c>; compared case-insensitively.</param>
    /// <param name="factory">Creates the store.</param>
    /// <param name="validate">
    /// Returns the provider's option failures (each naming its configuration key), or none; run on start only when
    /// this provider is the one selected, so an application can register every provider and pick one by configuration.
    /// <see langword="null"/> (the default) validates nothing.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="providerName"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="factory"/> is null.</exception>
    public InputStateStoreRegistration(string providerName, Func<IServiceProvider, IInputStateStore> factory, Func<IServiceProvider, IEnumerable<string>>? validate = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(providerName);
        ArgumentNullException.ThrowIfNull(factory);
        ProviderName = providerName;
        Factory = factory;
        Validate = validate ?? (_ => []);
    }

    /// <summary>Gets the provider name.</summary>
    public string ProviderName { get; }

    /// <summary>Gets the factory.</summary>
    public Func<IServiceProvider, IInputStateStore> Factory { get; }

    /// <summary>Gets the provider's option validation: it returns the failures, each naming its configuration key.</summary>
    public Func<IServiceProvider, IEnumerable<string>> Validate { get; }

    /// <summary>
    /// Returns a validation that resolves <c>IOptions&lt;TOptions&gt;</c> and reports its
    /// <see cref="OptionsValidationException"/> failures, so a provider's <c>IValidateOptions&lt;TOptions&gt;</c> runs only
    /// when the provider is selected.
    /// </summary>
    /// <typeparam name="TOptions">The provider's options type.</typeparam>
    /// <returns>The validation.</returns>
    public static Func<IServiceProvider, IEnumerable<string>> ValidateOptions<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>()
        where TOptions : class
        => services =>
        {
            try
            {
                _ = services.GetRequiredService<IOptions<TOptions>>().Value;
                return [];
            }
            catch (OptionsValidationException ex)
            {
                return ex.Failures;
            }
        };
}

/// <summary>Builds the InputPipeline.Checkpointing registration: provider packages add their stores to it.</summary>
public interface IInputPipelineCheckpointingBuilder
{
    /// <summary>Gets the service collection.</summary>
    Microsoft.Extensions.DependencyInjection.IServiceCollection Services { get; }

    /// <summary>Gets the configuration section the options were bound from, or <see langword="null"/> when configured by a delegate.</summary>
    Microsoft.Extensions.Configuration.IConfiguration? Configuration { get; }
}
