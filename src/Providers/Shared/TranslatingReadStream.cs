// Shared source: compiled into each cloud provider package (linked from its .csproj).
namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// The content of a cloud store's read: a read-only, forward-only view of the SDK's response stream that owns the
/// response (disposing it releases the connection), reports the number of bytes it will yield as its
/// <see cref="Length"/>, and turns the SDK's failures while reading (a connection lost mid-body, a checksum mismatch)
/// into <see cref="CheckpointStoreException"/>, or into <see cref="OperationCanceledException"/> when the reader
/// cancelled, so no SDK exception crosses the store interface.
/// </summary>
internal sealed class TranslatingReadStream(Stream inner, long length, Func<Exception, bool> isStoreFailure, Func<Exception, CheckpointStoreException> translate, IDisposable? owner = null) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    /// <summary>Gets the number of bytes from the read's offset to the end of the object.</summary>
    public override long Length => length;

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return inner.Read(buffer);
        }
        catch (Exception ex) when (isStoreFailure(ex))
        {
            throw translate(ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (isStoreFailure(ex))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The read was cancelled.", ex, cancellationToken);
            }

            throw translate(ex);
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            owner?.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        owner?.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
