using System.Diagnostics.Metrics;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Local;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers InputPipeline.Checkpointing in an <see cref="IServiceCollection"/>.</summary>
public static class InputPipelineCheckpointingServiceCollectionExtensions
{
    /// <summary>
    /// Registers the input-pipeline checkpointing services with options bound from the
    /// <c>InputPipelineCheckpointing</c> section of <paramref name="configuration"/>: the options and their validation on
    /// start, the built-in <c>Local</c> provider (bound from <c>InputPipelineCheckpointing:Local</c>), the
    /// <see cref="IInputStateStore"/> the <c>Provider</c> key selects, and <see cref="CheckpointInputPipelineHook"/> (transient:
    /// one per training run), whose meter comes from the registered <see cref="IMeterFactory"/> when there is one (a
    /// generic host registers it). Calling it again is safe.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The application's configuration (its <c>InputPipelineCheckpointing</c> section is bound).</param>
    /// <returns>A builder to add provider stores to, for example <c>.AddS3Store()</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configuration"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddInputPipelineCheckpointing(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        IConfigurationSection section = configuration.GetSection(InputPipelineCheckpointingOptions.SectionName);
        if (section["Store"] is { Length: > 0 } store && StoreUri.TryParse(store, out StoreUri? uri, out _))
        {
            // The Store shortcut stands for Provider plus the provider's location keys; explicit keys of the provider's
            // own section (endpoints, credentials) still apply. An unparsable value is reported by the validator.
            // An explicit Provider is kept, so that one naming another provider than Store fails validation.
            string providerKey = InputPipelineCheckpointingOptions.SectionName + ":Provider";
            IEnumerable<KeyValuePair<string, string?>> values = uri.ToConfigurationValues(
                    InputPipelineCheckpointingOptions.SectionName,
                    includeAzureServiceUri: string.IsNullOrEmpty(section["AzureBlob:ConnectionString"]) && string.IsNullOrEmpty(section["AzureBlob:ServiceUri"]))
                .Where(pair => string.IsNullOrEmpty(section["Provider"]) || !string.Equals(pair.Key, providerKey, StringComparison.OrdinalIgnoreCase));
            section = new ConfigurationBuilder()
                .AddConfiguration(configuration)
                .AddInMemoryCollection(values)
                .Build()
                .GetSection(InputPipelineCheckpointingOptions.SectionName);
        }

        services.AddOptions<InputPipelineCheckpointingOptions>().Bind(section);
        var builder = new Builder(services, section);
        AddCore(builder);
        return builder;
    }

    /// <summary>Registers the input-pipeline checkpointing services with options set by <paramref name="configure"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <param name="configureLocal">Sets the Local store's options; <see langword="null"/> (the default) keeps their defaults.</param>
    /// <returns>A builder to add provider stores to.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddInputPipelineCheckpointing(this IServiceCollection services, Action<InputPipelineCheckpointingOptions> configure, Action<LocalStoreOptions>? configureLocal = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<InputPipelineCheckpointingOptions>().Configure(configure);
        var builder = new Builder(services, null);
        AddCore(builder);
        if (configureLocal is not null)
        {
            builder.AddLocalStore(configureLocal);
        }

        return builder;
    }

    private static void AddCore(Builder builder)
    {
        IServiceCollection services = builder.Services;
        services.AddLogging();
        services.AddOptions<InputPipelineCheckpointingOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InputPipelineCheckpointingOptions>, InputPipelineCheckpointingOptionsValidator>());
        builder.AddLocalStore();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IInputStateStore>(CreateStore);
        services.TryAddTransient(sp => new CheckpointInputPipelineHook(
            sp.GetRequiredService<IInputStateStore>(),
            sp.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value.ToHookOptions(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<IMeterFactory>()));
    }

    private static IInputStateStore CreateStore(IServiceProvider services)
    {
        InputPipelineCheckpointingOptions options = services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value;
        InputStateStoreRegistration[] registrations = [.. services.GetServices<InputStateStoreRegistration>()];
        InputStateStoreRegistration? chosen = registrations.LastOrDefault(r => string.Equals(r.ProviderName, options.Provider, StringComparison.OrdinalIgnoreCase));
        return chosen is null
            ? throw new CheckpointOptionsException(
                $"{InputPipelineCheckpointingOptions.SectionName}:Provider",
                $"\"{options.Provider}\" is not a registered provider; registered providers: {string.Join(", ", registrations.Select(r => r.ProviderName))}.")
            : chosen.Factory(services);
    }

    private sealed class Builder(IServiceCollection services, IConfiguration? configuration) : IInputPipelineCheckpointingBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IConfiguration? Configuration { get; } = configuration;
    }
}
