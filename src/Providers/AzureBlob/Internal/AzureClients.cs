using Azure.Core;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;

namespace InputPipeline.Checkpointing.AzureBlob.Internal;

/// <summary>Creates the container client a store's options describe, when the application gave it none.</summary>
internal static class AzureClients
{
    /// <summary>Returns the client options the store's options describe: retries, timeouts and transfer checksums.</summary>
    public static BlobClientOptions CreateClientOptions(AzureBlobStoreOptions options)
    {
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = options.NetworkTimeout;
        clientOptions.TransferValidation.Upload.ChecksumAlgorithm = options.TransferChecksum;
        clientOptions.TransferValidation.Download.ChecksumAlgorithm = StorageChecksumAlgorithm.None;
        return clientOptions;
    }

    /// <summary>Returns a client of the options' container, from the connection string or the service URI (with its SAS, or <c>DefaultAzureCredential</c>).</summary>
    public static BlobContainerClient CreateContainerClient(AzureBlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        AzureBlobStoreOptionsValidator.ThrowIfInvalid(options, connectionRequired: true);
        BlobClientOptions clientOptions = CreateClientOptions(options);
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return new BlobServiceClient(options.ConnectionString, clientOptions).GetBlobContainerClient(options.Container);
        }

        Uri uri = options.ServiceUri!;
        bool sas = AzureBlobStoreOptions.HasSas(uri);
        if (!string.IsNullOrEmpty(new BlobUriBuilder(uri).BlobContainerName))
        {
            return sas ? new BlobContainerClient(uri, clientOptions) : new BlobContainerClient(uri, new DefaultAzureCredential(), clientOptions);
        }

        BlobServiceClient service = sas ? new BlobServiceClient(uri, clientOptions) : new BlobServiceClient(uri, new DefaultAzureCredential(), clientOptions);
        return service.GetBlobContainerClient(options.Container);
    }

    /// <summary>Returns the client of the options' container in an application's service client.</summary>
    public static BlobContainerClient ContainerOf(BlobServiceClient serviceClient, AzureBlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(serviceClient);
        ArgumentNullException.ThrowIfNull(options);
        AzureBlobStoreOptionsValidator.ThrowIfInvalid(options, connectionRequired: false);
        return serviceClient.GetBlobContainerClient(options.Container);
    }
}
