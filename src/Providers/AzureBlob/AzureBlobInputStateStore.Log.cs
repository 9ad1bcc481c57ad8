using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.AzureBlob;

public sealed partial class AzureBlobInputStateStore
{
    private static partial class Log
    {
        [LoggerMessage(2000, LogLevel.Information, "Created the missing Azure Blob container {Container} at {Location} (CreateContainerIfMissing is on).")]
        public static partial void ContainerCreated(ILogger logger, string container, string location);

        [LoggerMessage(2001, LogLevel.Warning, "Azure Blob {Operation} of key \"{Key}\" in container {Container} failed: {Failure}. Transient failures were retried first.")]
        public static partial void RequestFailed(ILogger logger, string operation, string key, string container, string failure, Exception exception);

        [LoggerMessage(2002, LogLevel.Debug, "CreateContainerIfMissing is on, but the credential may not create the Azure Blob container {Container} at {Location} ({Failure}); going on with the container as it is.")]
        public static partial void ContainerNotCreated(ILogger logger, string container, string location, string failure);
    }
}
