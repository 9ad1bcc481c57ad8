using Microsoft.Extensions.DependencyInjection;

namespace InputPipeline.Checkpointing;

/// <summary>A store provider registered by name; <c>InputPipelineCheckpointing:Provider</c> selects one.</summary>
public sealed class InputStateStoreRegistration
{
    /// <summary>Creates a registration.</summary>
    /// <param name="providerName">The provider name, for example <c>S3</c>; compared case-insensitively.</param>
    /// <param name="factory">Creates the store.</param>
    /// <exception cref="ArgumentException"><paramref name="providerName"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="factory"/> is null.</exception>
    public InputStateStoreRegistration(string providerName, Func<IServiceProvider, IInputStateStore> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(providerName);
        ArgumentNullException.ThrowIfNull(factory);
        ProviderName = providerName;
        Factory = factory;
    }

    /// <summary>Gets the provider name.</summary>
    public string ProviderName { get; }

    /// <summary>Gets the factory.</summary>
    public Func<IServiceProvider, IInputStateStore> Factory { get; }
}

/// <summary>Builds the InputPipeline.Checkpointing registration: provider packages add their stores to it.</summary>
public interface IInputPipelineCheckpointingBuilder
{
    /// <summary>Gets the service collection.</summary>
    Microsoft.Extensions.DependencyInjection.IServiceCollection Services { get; }

    /// <summary>Gets the configuration section the options were bound from, or <see langword="null"/> when configured by a delegate.</summary>
    Microsoft.Extensions.Configuration.IConfiguration? Configuration { get; }
}
