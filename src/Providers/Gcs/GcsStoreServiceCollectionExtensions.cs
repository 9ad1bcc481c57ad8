using Google.Apis.Auth.OAuth2;
using Google.Cloud.Storage.V1;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Gcs;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Google Cloud Storage store with InputPipeline.Checkpointing.</summary>
public static class GcsStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>Gcs</c> provider: <see cref="GcsStoreOptions"/> bound from the <c>Gcs</c> subsection of the
    /// builder's configuration (<c>InputPipelineCheckpointing:Gcs</c>), validated on start by
    /// <see cref="GcsStoreOptionsValidator"/> only when <c>Gcs</c> is the selected provider (messages name the key), and a
    /// <see cref="GcsInputStateStore"/> created when <c>Provider</c> is <c>Gcs</c>. If the application registered a
    /// <see cref="StorageClient"/> as a keyed service under <see cref="GcsInputStateStore.ClientServiceKey"/>, the store
    /// uses that client (and does not dispose it); otherwise it creates its own, with a keyed <see cref="GoogleCredential"/>
    /// registered under <see cref="GcsInputStateStore.CredentialServiceKey"/> if there is one, else the credentials the
    /// options name. Calling it again is safe: the configuration is bound once, and a further <paramref name="configure"/>
    /// is applied after the earlier ones.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddGcsStore(this IInputPipelineCheckpointingBuilder builder, Action<GcsStoreOptions>? configure = null) =>
        StoreRegistration.Add<GcsStoreOptions, GcsStoreOptionsValidator>(builder, GcsInputStateStore.GcsProviderName, (options, section) => options.Bind(section), configure, CreateStore);

    private static GcsInputStateStore CreateStore(IServiceProvider services, GcsStoreOptions options)
    {
        ILoggerFactory? loggerFactory = services.GetService<ILoggerFactory>();
        return services.GetKeyedService<StorageClient>(GcsInputStateStore.ClientServiceKey) is { } client
            ? new GcsInputStateStore(client, options, loggerFactory)
            : new GcsInputStateStore(options, services.GetKeyedService<GoogleCredential>(GcsInputStateStore.CredentialServiceKey), loggerFactory);
    }
}
