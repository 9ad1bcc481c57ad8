namespace InputPipeline.Checkpointing.AzureBlob.Internal;

/// <summary>
/// The content of a download: a read-only view of the SDK's response stream whose failures (a connection lost mid-read
/// that the SDK's resumption could not recover, for example because the blob changed meanwhile) surface as
/// <see cref="CheckpointStoreException"/>, so no SDK exception type escapes the store.
/// </summary>
internal sealed class TranslatingReadStream : Stream
{
    private readonly Stream _inner;
    private readonly Func<Exception, CheckpointStoreException> _translate;

    public TranslatingReadStream(Stream inner, Func<Exception, CheckpointStoreException> translate)
    {
        _inner = inner;
        _translate = translate;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

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
            return _inner.Read(buffer);
        }
        catch (Exception ex) when (AzureErrors.IsStoreFailure(ex))
        {
            throw _translate(ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (AzureErrors.IsStoreFailure(ex))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The read was cancelled.", ex, cancellationToken);
            }

            throw _translate(ex);
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
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
