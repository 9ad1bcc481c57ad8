using Google.Apis.Upload;
using Microsoft.Extensions.Logging;
using Object = Google.Apis.Storage.v1.Data.Object;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// A write through a resumable session: the store starts the session through the client library's own uploader (its
/// preconditions, headers and user agent), under the store's retries, which the library does not make for it; the
/// library then sends the chunks from one reused buffer and resumes a failed one from what the session holds. A
/// failed or cancelled upload cancels its session, which the library leaves open.
/// </summary>
internal static class GcsResumableUpload
{
    private static readonly TimeSpan SessionCancelTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Starts a session through the client library's uploader (with the store's retries), then lets the library send
    /// the chunks; a failed or cancelled upload cancels its session.
    /// </summary>
    public static async Task<StoreVersion> RunAsync(StorageClient client, GcsCalls calls, string bucket, string name, string key, PrefixedStream content, long? generationMatch, WriteCondition condition, GcsStoreOptions settings, ILogger logger, CancellationToken cancellationToken)
    {
        var options = new UploadObjectOptions { IfGenerationMatch = generationMatch, ChunkSize = settings.ChunkSize };
        Uri session = await calls.RunAsync("starting a resumable upload", key, idempotent: true, (_, ct) => GcsErrors.Conditional(condition, key, () => client.CreateObjectUploader(bucket, name, GcsMedia.OctetStream, content, options).InitiateSessionAsync(ct)), cancellationToken).ConfigureAwait(false);
        using var upload = new GcsSessionUpload(session, content, client.Service, settings.ChunkSize, settings.TransferValidation);
        bool completed = false;
        try
        {
            IUploadProgress progress = await upload.UploadAsync(cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            switch (progress.Exception)
            {
                case null when upload.Result is { } written:
                    completed = true;
                    await CheckMd5Async(client, calls, bucket, name, key, written, upload.Md5Base64()).ConfigureAwait(false);
                    return GcsMedia.VersionOf(key, written);
                case GoogleApiException { HttpStatusCode: HttpStatusCode.PreconditionFailed } conflict:
                    throw new CheckpointConflictException(GcsInputStateStore.GcsProviderName, key, condition, conflict);
                case { } failure when GcsErrors.IsStoreFailure(failure, cancellationToken):
                    throw calls.Failure("uploading a chunk", key, failure, attempts: 1);
                case { } failure:
                    throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, $"writing failed: {failure.Message}", failure);
                default:
                    throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, "writing failed: the upload session did not complete after the last chunk.");
            }
        }
        finally
        {
            if (!completed)
            {
                await CancelSessionAsync(client, session, key, logger).ConfigureAwait(false);
            }
        }
    }

    /// <summary>With <see cref="GcsStoreOptions.TransferValidation"/>: deletes an object whose MD5 is not that of the bytes sent, and fails.</summary>
    private static async Task CheckMd5Async(StorageClient client, GcsCalls calls, string bucket, string name, string key, Object written, string? sent)
    {
        if (sent is null || string.Equals(sent, written.Md5Hash, StringComparison.Ordinal))
        {
            return;
        }

        var options = new DeleteObjectOptions { IfGenerationMatch = written.Generation, RetryOptions = RetryOptions.Never };
        await calls.RunAsync("deleting a damaged upload", key, idempotent: true, async (_, ct) => { await client.DeleteObjectAsync(bucket, name, options, ct).ConfigureAwait(false); return true; }, CancellationToken.None).ConfigureAwait(false);
        throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, $"writing failed: the object's MD5 ({written.Md5Hash}) is not that of the bytes sent ({sent}); the object was deleted.");
    }

    private static async Task CancelSessionAsync(StorageClient client, Uri session, string key, ILogger logger)
    {
        try
        {
            using var timeout = new CancellationTokenSource(SessionCancelTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Delete, session);
            using HttpResponseMessage response = await client.Service.HttpClient.SendAsync(request, timeout.Token).ConfigureAwait(false);
            GcsLog.UploadSessionCancelled(logger, key, (int)response.StatusCode);
        }
        catch (Exception ex) when (GcsErrors.IsStoreFailure(ex, CancellationToken.None))
        {
            GcsLog.UploadSessionCancelFailed(logger, key, ex);
        }
    }
}
