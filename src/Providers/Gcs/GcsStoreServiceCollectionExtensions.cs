using Google.Apis.Auth.OAuth2;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Gcs;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Google Cloud Storage store with InputPipeline.Checkpointing.</summary>
public static class GcsStoreServiceCollectionExtensions
{
    private static GcsInputStateStore CreateStore(IServiceProvider services, GcsStoreOptions options) =>
        services.GetKeyedService<StorageClient>(GcsInputStateStore.ClientServiceKey) is { } client
            ? new GcsInputStateStore(client, options, services.GetService<ILoggerFactory>())
            : new GcsInputStateStore(options, services.GetKeyedService<GoogleCredential>(GcsInputStateStore.CredentialServiceKey), services.GetService<ILoggerFactory>());

    /// <summary>
    /// Registers the <c>Gcs</c> provider: a <see cref="GcsInputStateStore"/> over the <see cref="StorageClient"/> the
    /// application registered as a keyed service under <see cref="GcsInputStateStore.ClientServiceKey"/> (not disposed
    /// with the store), or over a client of its own, built with a keyed <see cref="GoogleCredential"/> under
    /// <see cref="GcsInputStateStore.CredentialServiceKey"/> if there is one, else with the credentials the
    /// <see cref="GcsStoreOptions"/> name (checked by <see cref="GcsStoreOptionsValidator"/>).
    /// </summary>
    /// <include file="../Shared/StoreRegistration.xml" path="doc/add/*"/>
    public static IInputPipelineCheckpointingBuilder AddGcsStore(this IInputPipelineCheckpointingBuilder builder, Action<GcsStoreOptions>? configure = null) =>
        StoreRegistration.Add<GcsStoreOptions, GcsStoreOptionsValidator>(builder, GcsInputStateStore.GcsProviderName, (options, section) => options.Bind(section), configure, CreateStore);
}
