using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.S3.Internal;

/// <summary>
/// The SDK calls the store's operations share, in one bucket: each call's failures translated (a failed condition
/// into <see cref="CheckpointConflictException"/>, the rest into <see cref="CheckpointStoreException"/> naming the
/// bucket and the SDK's attempts), the write conditions and encryption settings put on requests, the object metadata,
/// and the creation of a missing bucket.
/// </summary>
internal sealed partial class S3Calls(IAmazonS3 client, string bucket, int attempts, ServerSideEncryptionMethod? encryption, string? kmsKeyId, ILogger logger)
{
    /// <summary>The ETag of any object, for <c>If-None-Match</c> and <c>If-Match</c>: <c>*</c>.</summary>
    public const string AnyETag = "*";

    /// <summary>The content type of every object the store writes.</summary>
    public const string ContentType = "application/octet-stream";

    public IAmazonS3 Client => client;

    public string Bucket => bucket;

    public ILogger Logger => logger;

    /// <summary>Returns the <c>If-None-Match</c> and <c>If-Match</c> values of a write condition.</summary>
    public static (string? IfNoneMatch, string? IfMatch) Headers(WriteCondition condition) => condition.Kind switch
    {
        WriteConditionKind.IfAbsent => (AnyETag, null),
        WriteConditionKind.IfVersionMatches => (null, condition.Version!.Value.Value),
        _ => (null, null),
    };

    public static bool SameETag(string? a, string? b) =>
        string.Equals(a?.Trim('"'), b?.Trim('"'), StringComparison.Ordinal);

    public static bool IsConditionFailure(AmazonServiceException exception, WriteCondition condition) =>
        condition.Kind != WriteConditionKind.None
        && (S3Errors.IsPreconditionFailed(exception) || (condition.Kind == WriteConditionKind.IfVersionMatches && S3Errors.IsNoSuchKey(exception)));

    /// <summary>Sets the configured server-side encryption on a request, through <paramref name="apply"/>.</summary>
    public void Encrypt(Action<ServerSideEncryptionMethod, string?> apply)
    {
        if (encryption is not null)
        {
            apply(encryption, kmsKeyId);
        }
    }

    /// <summary>Runs an SDK call; with a <paramref name="condition"/>, a failed precondition becomes a conflict.</summary>
    public async Task<T> CallAsync<T>(string operation, string? key, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken, WriteCondition? condition = null)
    {
        try
        {
            return await call(cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException ex) when (condition is { } c && key is not null && IsConditionFailure(ex, c))
        {
            throw new CheckpointConflictException(S3InputStateStore.S3ProviderName, key, c, ex);
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, cancellationToken))
        {
            throw Failure(operation, key, ex);
        }
    }

    /// <summary>Returns the object's metadata, or <see langword="null"/> when it does not exist.</summary>
    public async Task<GetObjectMetadataResponse?> HeadAsync(string key, string objectKey, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = objectKey }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException ex) when (S3Errors.IsNoSuchKey(ex))
        {
            return null;
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, cancellationToken))
        {
            throw Failure("HeadObject", key, ex);
        }
    }

    public CheckpointStoreException Failure(string operation, string? key, Exception exception)
    {
        if (exception is AmazonServiceException service && S3Errors.IsNoSuchBucket(service))
        {
            return new CheckpointStoreException(
                S3InputStateStore.S3ProviderName,
                key,
                $"{operation} failed: the bucket \"{bucket}\" does not exist. Create it, or set {S3StoreOptions.SectionPath}:CreateBucketIfMissing to true.",
                exception);
        }

        string reason = S3Errors.Describe(exception);
        if (S3Errors.IsTransient(exception))
        {
            Log.RetriesExhausted(logger, operation, key ?? string.Empty, bucket, attempts, reason, exception);
            return new CheckpointStoreException(S3InputStateStore.S3ProviderName, key, $"{operation} in bucket \"{bucket}\" failed after up to {attempts} attempts: {reason}", exception);
        }

        return new CheckpointStoreException(S3InputStateStore.S3ProviderName, key, $"{operation} in bucket \"{bucket}\" failed: {reason}", exception);
    }

    public StoreVersion Version(string key, string? eTag) =>
        string.IsNullOrEmpty(eTag)
            ? throw new CheckpointStoreException(S3InputStateStore.S3ProviderName, key, $"the service returned no ETag for the object in bucket \"{bucket}\".")
            : new StoreVersion(NormalizeETag(eTag));

    public StoreObjectInfo Info(string key, long? length, string? eTag, DateTime? lastModified) =>
        new(key, length ?? 0, Version(key, eTag), lastModified is { } time ? ToUtc(time) : DateTimeOffset.UnixEpoch);

    /// <summary>Creates the bucket unless it exists (shared by every caller, so not cancellable by one of them).</summary>
    public async Task CreateBucketIfMissingAsync()
    {
        try
        {
            await client.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        catch (AmazonServiceException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Missing: create it below.
        }
        catch (AmazonServiceException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return; // It exists, but this identity may not list it; object requests will tell.
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, CancellationToken.None))
        {
            throw Failure("HeadBucket", null, ex);
        }

        try
        {
            var request = new PutBucketRequest { BucketName = bucket };
            string region = client.Config.RegionEndpoint?.SystemName ?? client.Config.AuthenticationRegion ?? RegionEndpoint.USEast1.SystemName;
            if (region != RegionEndpoint.USEast1.SystemName)
            {
                request.BucketRegionName = region;
            }

            await client.PutBucketAsync(request, CancellationToken.None).ConfigureAwait(false);
            Log.BucketCreated(logger, bucket);
        }
        catch (AmazonServiceException ex) when (ex.ErrorCode == "BucketAlreadyOwnedByYou")
        {
            // Created meanwhile by another writer.
        }
        catch (AmazonServiceException ex) when (ex.ErrorCode == "BucketAlreadyExists")
        {
            throw new CheckpointStoreException(S3InputStateStore.S3ProviderName, null, $"the bucket \"{bucket}\" does not exist in this account and its name is taken by another account; choose another {S3StoreOptions.SectionPath}:Bucket.", ex);
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, CancellationToken.None))
        {
            throw Failure("CreateBucket", null, ex);
        }
    }

    /// <summary>ETags are quoted strings; some services drop the quotes in some responses, so versions always carry them.</summary>
    private static string NormalizeETag(string eTag)
    {
        string trimmed = eTag.Trim();
        return trimmed.StartsWith('"') || trimmed.StartsWith("W/", StringComparison.Ordinal) ? trimmed : $"\"{trimmed}\"";
    }

    private static DateTimeOffset ToUtc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Local => new DateTimeOffset(time.ToUniversalTime(), TimeSpan.Zero),
        _ => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc), TimeSpan.Zero),
    };

    /// <summary>The provider's log messages; event ids 2100-2199 belong to the S3 provider.</summary>
    internal static partial class Log
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
