namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// The content of a download: reads the response body, fails a read that gets no data within the attempt timeout,
/// turns transport failures into <see cref="CheckpointStoreException"/> (the transport's exception kept inside), and
/// disposes the response with the stream.
/// </summary>
internal sealed class GcsDownloadStream : Stream
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private readonly string _key;
    private readonly TimeSpan _readTimeout;
    private CancellationTokenSource? _readTimer;
    private int _disposed;

    public GcsDownloadStream(HttpResponseMessage response, Stream body, string key, TimeSpan readTimeout)
    {
        _response = response;
        _body = body;
        _key = key;
        _readTimeout = readTimeout;
    }

    public override bool CanRead => _disposed == 0;

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
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        try
        {
            return _body.Read(buffer);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw Failure(ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        CancellationTokenSource timeout = ReadTimer(cancellationToken);
        try
        {
            timeout.CancelAfter(_readTimeout);
            return await _body.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, _key, $"the download received no data for {_readTimeout.TotalSeconds:0.###} s (AttemptTimeout).", ex);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw Failure(ex);
        }
        finally
        {
            if (!ReferenceEquals(timeout, _readTimer))
            {
                timeout.Dispose();
            }
        }
    }

    /// <summary>Returns the source that cancels one read after the timeout: linked to the caller's token, or a reused one when the caller cannot cancel.</summary>
    private CancellationTokenSource ReadTimer(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            return CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }

        if (_readTimer is { } reusable && reusable.TryReset())
        {
            return reusable;
        }

        _readTimer?.Dispose();
        return _readTimer = new CancellationTokenSource();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _body.Dispose();
            _response.Dispose();
            _readTimer?.Dispose();
        }

        base.Dispose(disposing);
    }

    private CheckpointStoreException Failure(Exception ex) =>
        new(GcsInputStateStore.GcsProviderName, _key, $"the download broke off: {ex.Message}", ex);
}
