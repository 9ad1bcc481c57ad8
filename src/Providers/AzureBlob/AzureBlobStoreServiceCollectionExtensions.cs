using Azure.Storage.Blobs;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Azure Blob store with InputPipeline.Checkpointing.</summary>
public static class AzureBlobStoreServiceCollectionExtensions
{
    private static AzureBlobInputStateStore CreateStore(IServiceProvider services, AzureBlobStoreOptions options)
    {
        ILoggerFactory? loggerFactory = services.GetService<ILoggerFactory>();
        return services.GetKeyedService<BlobServiceClient>(AzureBlobStoreOptions.ClientServiceKey) is { } client
            ? new AzureBlobInputStateStore(client, options, loggerFactory)
            : new AzureBlobInputStateStore(options, loggerFactory);
    }

    /// <summary>
    /// Registers the <c>AzureBlob</c> provider, an <see cref="AzureBlobInputStateStore"/> configured by
    /// <see cref="AzureBlobStoreOptions"/> (checked by <see cref="AzureBlobStoreOptionsValidator"/>). A
    /// <see cref="BlobServiceClient"/> the application registered as a keyed service under
    /// <see cref="AzureBlobStoreOptions.ClientServiceKey"/> is used when present, and then neither <c>ConnectionString</c>
    /// nor <c>ServiceUri</c> is needed.
    /// </summary>
    /// <include file="../Shared/StoreRegistration.xml" path="doc/add/*"/>
    public static IInputPipelineCheckpointingBuilder AddAzureBlobStore(this IInputPipelineCheckpointingBuilder builder, Action<AzureBlobStoreOptions>? configure = null) =>
        StoreRegistration.Add<AzureBlobStoreOptions, AzureBlobStoreOptionsValidator>(builder, AzureBlobInputStateStore.AzureBlobProviderName, (options, section) => options.Bind(section), configure, CreateStore);
}
