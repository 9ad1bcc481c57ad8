using Amazon.S3;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.S3;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the S3 store with InputPipeline.Checkpointing.</summary>
public static class S3StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>S3</c> provider: <see cref="S3StoreOptions"/> bound from the <c>S3</c> subsection of the builder's
    /// configuration (<c>InputPipelineCheckpointing:S3</c>), validated on start (when <c>S3</c> is the selected provider)
    /// with messages naming the key, and an <see cref="S3InputStateStore"/> created from them when <c>Provider</c> is
    /// <c>S3</c>. If the application registered an <see cref="IAmazonS3"/> as a keyed service under
    /// <see cref="S3InputStateStore.ClientServiceKey"/>, the store uses that client (and does not dispose it); otherwise it
    /// creates its own, with credentials from the standard AWS chain. Calling it again is safe.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddS3Store(this IInputPipelineCheckpointingBuilder builder, Action<S3StoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        OptionsBuilder<S3StoreOptions> options = builder.Services.AddOptions<S3StoreOptions>();
        if (builder.Configuration is { } configuration && !builder.Services.Any(d => d.ServiceType == typeof(S3StoreOptionsBound)))
        {
            options.Bind(configuration.GetSection(S3InputStateStore.S3ProviderName));
            builder.Services.AddSingleton<S3StoreOptionsBound>();
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3StoreOptions>, S3StoreOptionsValidator>());
        return builder.AddStore(
            S3InputStateStore.S3ProviderName,
            CreateStore,
            InputStateStoreRegistration.ValidateOptions<S3StoreOptions>());
    }

    private static S3InputStateStore CreateStore(IServiceProvider services)
    {
        S3StoreOptions options = services.GetRequiredService<IOptions<S3StoreOptions>>().Value;
        ILogger<S3InputStateStore>? logger = services.GetService<ILoggerFactory>()?.CreateLogger<S3InputStateStore>();
        IAmazonS3? client = services.GetKeyedService<IAmazonS3>(S3InputStateStore.ClientServiceKey);
        return client is null
            ? new S3InputStateStore(options, credentials: null, logger)
            : new S3InputStateStore(client, options, logger);
    }

    /// <summary>Marks that the configuration was bound once, so a second call does not bind it twice.</summary>
    private sealed class S3StoreOptionsBound;
}
