using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>The Gcs provider's log messages; event ids 2200-2299 belong to it.</summary>
internal static partial class GcsLog
{
    [LoggerMessage(EventId = 2200, Level = LogLevel.Information, Message = "Created the Cloud Storage bucket {Bucket} in project {ProjectId}.")]
    public static partial void BucketCreated(ILogger logger, string bucket, string projectId);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Debug, Message = "The Cloud Storage bucket {Bucket} was created meanwhile by another writer.")]
    public static partial void BucketAlreadyCreated(ILogger logger, string bucket);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "The credentials may not read the metadata of bucket {Bucket} (HTTP 403); assuming it exists.")]
    public static partial void BucketNotInspectable(ILogger logger, string bucket);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Debug, Message = "Retrying {Operation} (retry {Retry} of {MaxRetries}) in {Delay} after {Cause}.")]
    public static partial void Retrying(ILogger logger, string operation, int retry, int maxRetries, TimeSpan delay, string cause);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Warning, Message = "Cloud Storage request {Operation} for key {Key} failed after {Attempts} attempts: {Cause}.")]
    public static partial void RetriesExhausted(ILogger logger, string operation, string? key, int attempts, string cause);

    [LoggerMessage(EventId = 2205, Level = LogLevel.Debug, Message = "Cancelled the resumable upload of {Key} (HTTP {Status}).")]
    public static partial void UploadSessionCancelled(ILogger logger, string key, int status);

    [LoggerMessage(EventId = 2206, Level = LogLevel.Warning, Message = "Could not cancel the resumable upload of {Key}; no object was created, and Cloud Storage discards the session within a week.")]
    public static partial void UploadSessionCancelFailed(ILogger logger, string key, Exception exception);
}
