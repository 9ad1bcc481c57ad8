using Amazon.Runtime;
using Amazon.S3.Model;

namespace InputPipeline.Checkpointing.S3.Internal;

/// <summary>
/// The content of a <c>GetObject</c> response: a read-only, non-seekable stream that owns the response (disposing it
/// releases the connection) and translates the SDK's exceptions (for example a response checksum mismatch) into
/// <see cref="CheckpointStoreException"/>, so none crosses the store interface.
/// </summary>
internal sealed class S3ReadStream : Stream
{
    private readonly GetObjectResponse _response;
    private readonly Stream _inner;
    private readonly string _key;
    private readonly long _length;

    public S3ReadStream(GetObjectResponse response, string key, long length)
    {
        _response = response;
        _inner = response.ResponseStream;
        _key = key;
        _length = length;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _length;

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
        catch (AmazonClientException ex)
        {
            throw Failure(ex);
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
        catch (AmazonClientException ex)
        {
            throw Failure(ex);
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
            _response.Dispose();
        }

        base.Dispose(disposing);
    }

    private CheckpointStoreException Failure(AmazonClientException exception) =>
        new(S3InputStateStore.S3ProviderName, _key, $"reading the content failed: {S3Errors.Describe(exception)}", exception);
}
