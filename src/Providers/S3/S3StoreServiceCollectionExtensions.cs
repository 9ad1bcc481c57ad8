using Amazon.S3;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Providers.Internal;
using InputPipeline.Checkpointing.S3;
using Microsoft.Extensions.Logging;

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
    public static IInputPipelineCheckpointingBuilder AddS3Store(this IInputPipelineCheckpointingBuilder builder, Action<S3StoreOptions>? configure = null) =>
        StoreRegistration.Add<S3StoreOptions, S3StoreOptionsValidator>(builder, S3InputStateStore.S3ProviderName, (options, section) => options.Bind(section), configure, CreateStore);

    private static S3InputStateStore CreateStore(IServiceProvider services, S3StoreOptions options)
    {
        ILogger<S3InputStateStore>? logger = services.GetService<ILoggerFactory>()?.CreateLogger<S3InputStateStore>();
        return services.GetKeyedService<IAmazonS3>(S3InputStateStore.ClientServiceKey) is { } client
            ? new S3InputStateStore(client, options, logger)
            : new S3InputStateStore(options, credentials: null, logger);
    }
}
