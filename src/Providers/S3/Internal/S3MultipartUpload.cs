using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace InputPipeline.Checkpointing.S3.Internal;

/// <summary>
/// A multipart upload of one write: its condition is checked before it starts (so an upload that cannot succeed
/// uploads nothing) and carried by its completion, so no object is visible before the whole content is; any failure
/// or cancellation aborts it, leaving no parts behind. The parts come from the shared part loops (ChunkedUpload).
/// </summary>
internal static class S3MultipartUpload
{
    /// <summary>Runs the upload; <paramref name="uploadParts"/> sends the parts through the part delegate it is given.</summary>
    public static async Task<StoreVersion> RunAsync(S3Calls s3, string key, string objectKey, WriteCondition condition, ChecksumAlgorithm? partChecksum, Func<Func<int, Stream, CancellationToken, Task<PartETag>>, CancellationToken, Task<PartETag[]>> uploadParts, CancellationToken cancellationToken)
    {
        await CheckConditionAsync(s3, key, objectKey, condition, cancellationToken).ConfigureAwait(false);
        var initiate = new InitiateMultipartUploadRequest { BucketName = s3.Bucket, Key = objectKey, ContentType = S3Calls.ContentType, ChecksumAlgorithm = partChecksum };
        s3.Encrypt((method, kmsKeyId) => (initiate.ServerSideEncryptionMethod, initiate.ServerSideEncryptionKeyManagementServiceKeyId) = (method, kmsKeyId));
        string uploadId = (await s3.CallAsync("CreateMultipartUpload", key, ct => s3.Client.InitiateMultipartUploadAsync(initiate, ct), cancellationToken).ConfigureAwait(false)).UploadId;
        int uploaded = 0;
        bool completed = false;
        try
        {
            PartETag[] parts = await uploadParts(
                async (partNumber, body, ct) =>
                {
                    var request = new UploadPartRequest { BucketName = s3.Bucket, Key = objectKey, UploadId = uploadId, PartNumber = partNumber, PartSize = body.Length, InputStream = body, ChecksumAlgorithm = partChecksum };
                    UploadPartResponse response = await s3.CallAsync("UploadPart", key, c => s3.Client.UploadPartAsync(request, c), ct).ConfigureAwait(false);
                    Interlocked.Increment(ref uploaded);
                    return new PartETag(response) { PartNumber = partNumber };
                },
                cancellationToken).ConfigureAwait(false);

            // Amazon S3 enforces If-Match on CompleteMultipartUpload, but some S3-compatible services (moto among
            // them) ignore it there: check a compare-and-swap again just before completing.
            if (condition.Kind == WriteConditionKind.IfVersionMatches)
            {
                await CheckConditionAsync(s3, key, objectKey, condition, cancellationToken).ConfigureAwait(false);
            }

            (string? ifNoneMatch, string? ifMatch) = S3Calls.Headers(condition);
            var complete = new CompleteMultipartUploadRequest { BucketName = s3.Bucket, Key = objectKey, UploadId = uploadId, PartETags = [.. parts], IfNoneMatch = ifNoneMatch, IfMatch = ifMatch };
            CompleteMultipartUploadResponse done = await s3.CallAsync("CompleteMultipartUpload", key, ct => s3.Client.CompleteMultipartUploadAsync(complete, ct), cancellationToken, condition).ConfigureAwait(false);
            completed = true;
            return s3.Version(key, done.ETag);
        }
        finally
        {
            if (!completed)
            {
                await AbortAsync(s3, key, objectKey, uploadId, uploaded).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Checks a write condition with a HEAD.</summary>
    private static async Task CheckConditionAsync(S3Calls s3, string key, string objectKey, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (condition.Kind == WriteConditionKind.None)
        {
            return;
        }

        GetObjectMetadataResponse? head = await s3.HeadAsync(key, objectKey, cancellationToken).ConfigureAwait(false);
        bool holds = condition.Kind == WriteConditionKind.IfAbsent
            ? head is null
            : head is not null && S3Calls.SameETag(head.ETag, condition.Version!.Value.Value);
        if (!holds)
        {
            throw new CheckpointConflictException(S3InputStateStore.S3ProviderName, key, condition);
        }
    }

    private static async Task AbortAsync(S3Calls s3, string key, string objectKey, string uploadId, int parts)
    {
        try
        {
            // Not cancellable: a cancelled write must not leave its parts behind.
            await s3.Client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = s3.Bucket, Key = objectKey, UploadId = uploadId }, CancellationToken.None).ConfigureAwait(false);
            S3Calls.Log.MultipartAborted(s3.Logger, uploadId, key, s3.Bucket, parts);
        }
        catch (AmazonServiceException ex) when (ex.ErrorCode == "NoSuchUpload")
        {
            // Already gone.
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, CancellationToken.None))
        {
            S3Calls.Log.MultipartAbortFailed(s3.Logger, uploadId, key, s3.Bucket, ex);
        }
    }
}
