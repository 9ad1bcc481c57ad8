using Amazon.S3;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Providers.Internal;
using InputPipeline.Checkpointing.S3;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the S3 store with InputPipeline.Checkpointing.</summary>
public static class S3StoreServiceCollectionExtensions
{
    private static S3InputStateStore CreateStore(IServiceProvider services, S3StoreOptions options)
    {
        ILogger<S3InputStateStore>? logger = services.GetService<ILoggerFactory>()?.CreateLogger<S3InputStateStore>();
        return services.GetKeyedService<IAmazonS3>(S3InputStateStore.ClientServiceKey) is { } client
            ? new S3InputStateStore(client, options, logger)
            : new S3InputStateStore(options, credentials: null, logger);
    }

    /// <summary>
    /// Registers the <c>S3</c> provider. Its store, an <see cref="S3InputStateStore"/>, uses the <see cref="IAmazonS3"/>
    /// the application registered as a keyed service under <see cref="S3InputStateStore.ClientServiceKey"/> (and does not
    /// dispose it), or else a client of its own with credentials from the standard AWS chain; <see cref="S3StoreOptions"/>
    /// are checked by <see cref="S3StoreOptionsValidator"/>.
    /// </summary>
    /// <include file="../Shared/StoreRegistration.xml" path="doc/add/*"/>
    public static IInputPipelineCheckpointingBuilder AddS3Store(this IInputPipelineCheckpointingBuilder builder, Action<S3StoreOptions>? configure = null) =>
        StoreRegistration.Add<S3StoreOptions, S3StoreOptionsValidator>(builder, S3InputStateStore.S3ProviderName, (options, section) => options.Bind(section), configure, CreateStore);
}
