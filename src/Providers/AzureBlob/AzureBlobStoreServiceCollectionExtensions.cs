using Azure.Storage.Blobs;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Azure Blob store with InputPipeline.Checkpointing.</summary>
public static class AzureBlobStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>AzureBlob</c> provider: <see cref="AzureBlobStoreOptions"/> bound from the <c>AzureBlob</c>
    /// subsection of the builder's configuration (<c>InputPipelineCheckpointing:AzureBlob</c>), validated on start (only
    /// when <c>AzureBlob</c> is the selected provider) with messages naming the key, and an
    /// <see cref="AzureBlobInputStateStore"/> created from them when <c>Provider</c> is <c>AzureBlob</c>. When the
    /// application registered a <see cref="BlobServiceClient"/> as a keyed service under
    /// <see cref="AzureBlobStoreOptions.ClientServiceKey"/>, the store uses that client, and neither <c>ConnectionString</c>
    /// nor <c>ServiceUri</c> is needed. Calling it again is safe.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddAzureBlobStore(this IInputPipelineCheckpointingBuilder builder, Action<AzureBlobStoreOptions>? configure = null) =>
        StoreRegistration.Add<AzureBlobStoreOptions, AzureBlobStoreOptionsValidator>(builder, AzureBlobInputStateStore.AzureBlobProviderName, (options, section) => options.Bind(section), configure, CreateStore);

    private static AzureBlobInputStateStore CreateStore(IServiceProvider services, AzureBlobStoreOptions options)
    {
        ILoggerFactory? loggerFactory = services.GetService<ILoggerFactory>();
        return services.GetKeyedService<BlobServiceClient>(AzureBlobStoreOptions.ClientServiceKey) is { } client
            ? new AzureBlobInputStateStore(client, options, loggerFactory)
            : new AzureBlobInputStateStore(options, loggerFactory);
    }
}
