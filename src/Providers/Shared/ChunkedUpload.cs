// Shared source: compiled into each cloud provider package that uploads in parts (linked from its .csproj).
using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// The bounded-memory part loops of a multi-part upload (S3's multipart upload, Azure's staged blocks): the store
/// gives a delegate that uploads one part (numbered from 1) from a seekable body of known length, and keeps its own
/// start, commit and abort around the loop. Content of known length is read straight from the caller's stream, with
/// no copy; content of unknown length goes through pooled buffers of one part each, one uploading while the next fills.
/// </summary>
internal static class ChunkedUpload
{
    /// <summary>The number of parts of <paramref name="length"/> bytes in parts of <paramref name="partSize"/>.</summary>
    public static long PartCount(long length, long partSize) => (length + partSize - 1) / partSize;

    /// <summary>
    /// Uploads the <paramref name="length"/> bytes of seekable <paramref name="content"/> from its current position as
    /// parts of <paramref name="partSize"/> bytes, each read straight from the content, at most
    /// <paramref name="concurrency"/> at a time. The first failure stops the other parts and is thrown (not their
    /// cancellation); every request has ended, and the content is no longer read, when this returns or throws.
    /// </summary>
    /// <returns>The parts' results, in part order.</returns>
    public static async Task<TPart[]> FromSeekableAsync<TPart>(Stream content, long length, long partSize, int concurrency, Func<int, Stream, CancellationToken, Task<TPart>> uploadPart, CancellationToken cancellationToken)
    {
        long count = PartCount(length, partSize);
        var results = new TPart[count];
        var source = new SeekableContent(content, content.Position);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var inFlight = new Queue<Task>();
        ExceptionDispatchInfo? failure = null;
        try
        {
            for (int index = 0; index < count; index++)
            {
                if (inFlight.Count >= concurrency)
                {
                    await inFlight.Dequeue().ConfigureAwait(false);
                }

                long offset = index * partSize;
                inFlight.Enqueue(UploadAsync(index, source.Window(offset, Math.Min(partSize, length - offset))));
            }

            while (inFlight.Count > 0)
            {
                await inFlight.Dequeue().ConfigureAwait(false);
            }
        }
        catch when (failure is not null)
        {
            failure.Throw();
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await WaitForAllAsync(inFlight).ConfigureAwait(false);
            source.Close();
        }

        return results;

        async Task UploadAsync(int index, Stream body)
        {
            try
            {
                using (body)
                {
                    results[index] = await uploadPart(index + 1, body, stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(ex), null);
                await stop.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>
    /// Uploads content of unknown length whose first bytes are already in <paramref name="first"/> (and, unless the
    /// content ended in it, <paramref name="second"/>), reading the rest into buffers of <paramref name="partSize"/>
    /// bytes: one part uploads while the next fills, so at most two part buffers (and the first) are held. The
    /// buffers stay the caller's to dispose (disposing one twice is harmless).
    /// </summary>
    /// <returns>The parts' results, in part order.</returns>
    public static async Task<List<TPart>> FromBuffersAsync<TPart>(Stream content, PooledBuffer first, PooledBuffer second, bool ended, int partSize, int maxParts, Func<Exception> tooManyParts, Func<int, Stream, CancellationToken, Task<TPart>> uploadPart, CancellationToken cancellationToken)
    {
        PooledBuffer current = first;
        PooledBuffer? next = second;
        PooledBuffer? spare = null;
        Task<TPart>? pending = null;
        var parts = new List<TPart>();
        try
        {
            for (int partNumber = 1; ; partNumber++)
            {
                pending = UploadBufferAsync(partNumber, current);
                if (next is null && !ended)
                {
                    next = spare ?? new PooledBuffer(partSize);
                    spare = null;
                    next.Length = 0;
                    ended = await next.FillAsync(content, partSize, grow: false, cancellationToken).ConfigureAwait(false);
                }

                parts.Add(await pending.ConfigureAwait(false));
                pending = null;
                if (next is null || next.Length == 0)
                {
                    return parts;
                }

                if (partNumber + 1 > maxParts)
                {
                    throw tooManyParts();
                }

                // The buffer just uploaded is filled again next (the first part's only if it holds a whole part).
                if (current.Array.Length >= partSize)
                {
                    spare = current;
                }
                else
                {
                    current.Dispose();
                }

                current = next;
                next = null;
            }
        }
        finally
        {
            if (pending is not null)
            {
                // Let a part in flight finish (or fail) before its buffer goes back to the pool.
                await WaitForAllAsync([pending]).ConfigureAwait(false);
            }

            current.Dispose();
            next?.Dispose();
            spare?.Dispose();
        }

        async Task<TPart> UploadBufferAsync(int partNumber, PooledBuffer buffer)
        {
            using var body = new MemoryStream(buffer.Array, 0, buffer.Length, writable: false);
            return await uploadPart(partNumber, body, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for every task to end, ignoring their failures: the upload already fails for its own reason.</summary>
    private static async Task WaitForAllAsync(IEnumerable<Task> tasks)
    {
        foreach (Task task in tasks)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Only waits for the request to end; its failure is not the one reported.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }
}
