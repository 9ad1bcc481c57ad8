
namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// A read-only, non-seekable stream of the bytes already read into a buffer (if any), then the rest of the content:
/// what a resumable upload reads, so that the client library fills one reused chunk buffer from it.
/// </summary>
internal sealed class PrefixedStream(PooledBuffer? head, Stream rest) : Stream
{
    private int _headPosition;

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
        if (head is not null && _headPosition < head.Length)
        {
            return CopyFromHead(buffer);
        }

        return rest.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (head is not null && _headPosition < head.Length)
        {
            return ValueTask.FromResult(CopyFromHead(buffer.Span));
        }

        return rest.ReadAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int CopyFromHead(Span<byte> buffer)
    {
        int count = Math.Min(buffer.Length, head!.Length - _headPosition);
        head.Array.AsSpan(_headPosition, count).CopyTo(buffer);
        _headPosition += count;
        return count;
    }
}
