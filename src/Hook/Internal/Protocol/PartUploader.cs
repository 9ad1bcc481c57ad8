using System.IO.Pipelines;
using System.Runtime.InteropServices;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Step 2 of the commit protocol: writes one snapshot as a create-only part and returns its length and checksum. A
/// snapshot already in memory goes to the store as a seekable stream while another thread hashes it; any other
/// snapshot streams through a bounded pipe, hashed on the way.
/// </summary>
internal sealed class PartUploader(ChainContext chain)
{
    private const int PipePauseThreshold = 4 * 1024 * 1024;

    /// <summary>Parts up to this size are hashed on the saving thread; larger ones on another thread, during the upload.</summary>
    private const int InlineHashLimit = 1024 * 1024;

    /// <exception cref="CheckpointSaveException">The snapshot failed while it was written.</exception>
    /// <exception cref="CheckpointStoreException">The store failed.</exception>
    public async Task<(long Length, string Checksum)> UploadAsync(string key, ICheckpointSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (snapshot is IBufferedCheckpointSnapshot buffered && MemoryMarshal.TryGetArray(buffered.Buffer, out ArraySegment<byte> segment))
        {
            return await UploadBufferedAsync(key, segment, cancellationToken).ConfigureAwait(false);
        }

        var pipe = new Pipe(new PipeOptions(
            pauseWriterThreshold: PipePauseThreshold,
            resumeWriterThreshold: PipePauseThreshold / 2,
            minimumSegmentSize: 64 * 1024,
            useSynchronizationContext: false));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var hashing = new HashingWriteStream(pipe.Writer.AsStream(leaveOpen: true));

        Task produce = Task.Run(
            async () =>
            {
                try
                {
                    await snapshot.WriteToAsync(hashing, linked.Token).ConfigureAwait(false);
                    await hashing.FlushAsync(linked.Token).ConfigureAwait(false);
                    await pipe.Writer.CompleteAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    await pipe.Writer.CompleteAsync(ex).ConfigureAwait(false);
                    throw;
                }
            },
            CancellationToken.None);

        Stream content = pipe.Reader.AsStream(leaveOpen: true);
        try
        {
            await chain.Store.WriteAsync(key, content, WriteCondition.IfAbsent, linked.Token).ConfigureAwait(false);
        }
        catch (Exception storeFailure)
        {
            await linked.CancelAsync().ConfigureAwait(false);
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            Exception? snapshotFailure = await CompletionOf(produce).ConfigureAwait(false);
            if (snapshotFailure is not null and not OperationCanceledException)
            {
                // The snapshot failed first and the store only saw a broken stream: the snapshot's failure is the cause.
                throw new CheckpointSaveException(key, snapshotFailure);
            }

            if (storeFailure is CheckpointException or OperationCanceledException)
            {
                throw;
            }

            throw new CheckpointStoreException(chain.Provider, key, $"the write failed: {storeFailure.Message}", storeFailure);
        }
        finally
        {
            await content.DisposeAsync().ConfigureAwait(false);
        }

        // A store that stopped reading early must not leave the snapshot blocked on a full pipe; the length recorded
        // below then differs from the stored one, which restore reports as a truncated part.
        await pipe.Reader.CompleteAsync().ConfigureAwait(false);
        Exception? failure = await CompletionOf(produce).ConfigureAwait(false);
        if (failure is not null)
        {
            throw failure is OperationCanceledException ? failure : new CheckpointSaveException(key, failure);
        }

        return (hashing.BytesWritten, hashing.Checksum);
    }

    /// <summary>
    /// Uploads a part that is already in memory: the store reads it as a seekable stream of known length (no copy
    /// through a pipe, one request where the store allows it, retries possible), while another thread hashes it.
    /// </summary>
    private async Task<(long Length, string Checksum)> UploadBufferedAsync(string key, ArraySegment<byte> bytes, CancellationToken cancellationToken)
    {
        // A small part is hashed here and now (microseconds); a large one on another thread, while the store uploads it.
        Task<string> hashing = bytes.Count <= InlineHashLimit
            ? Task.FromResult(PartChecksum.Compute(bytes))
            : Task.Run(() => PartChecksum.Compute(bytes), CancellationToken.None);
        var content = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
        try
        {
            await chain.Store.WriteAsync(key, content, WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception storeFailure) when (storeFailure is not (CheckpointException or OperationCanceledException))
        {
            throw new CheckpointStoreException(chain.Provider, key, $"the write failed: {storeFailure.Message}", storeFailure);
        }
        finally
        {
            await content.DisposeAsync().ConfigureAwait(false);
            await CompletionOf(hashing).ConfigureAwait(false);
        }

        return (bytes.Count, await hashing.ConfigureAwait(false));
    }

    private static async Task<Exception?> CompletionOf(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }
}
