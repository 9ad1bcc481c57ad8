using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.S3;

public sealed partial class S3InputStateStore
{
    private static partial class Log
    {
        [LoggerMessage(2100, LogLevel.Information, "Created the S3 bucket {Bucket} (CreateBucketIfMissing is set).")]
        public static partial void BucketCreated(ILogger logger, string bucket);

        [LoggerMessage(2101, LogLevel.Warning, "S3 {Operation} of {Key} in bucket {Bucket} failed after up to {Attempts} attempts: {Reason}")]
        public static partial void RetriesExhausted(ILogger logger, string operation, string key, string bucket, int attempts, string reason, Exception exception);

        [LoggerMessage(2102, LogLevel.Debug, "Aborted the multipart upload {UploadId} of {Key} in bucket {Bucket} after {Parts} parts: the write failed or was cancelled.")]
        public static partial void MultipartAborted(ILogger logger, string uploadId, string key, string bucket, int parts);

        [LoggerMessage(2103, LogLevel.Warning, "Could not abort the multipart upload {UploadId} of {Key} in bucket {Bucket}; its parts stay billed until a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them.")]
        public static partial void MultipartAbortFailed(ILogger logger, string uploadId, string key, string bucket, Exception exception);
    }
}
