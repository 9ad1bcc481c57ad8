// Shared source: compiled into each provider that sends byte ranges of a seekable content as request bodies (S3's
// parts, Azure's blocks), so no provider package depends on another. Linked from their .csproj files.
namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// A seekable content stream that several request bodies read from, one byte range each, with no copy of the
/// content: each <see cref="Window"/> seeks the stream to its own position before every read, under a lock shared by
/// all the windows of one write, so a body an aborted request is still sending cannot move the stream under the next
/// one. Once the write is over (<see cref="Close"/>), no window reads the stream any more. The stream is never disposed.
/// </summary>
internal sealed class SeekableContent(Stream content, long start)
{
    private readonly Lock _gate = new();
    private bool _closed;

    /// <summary>Returns a stream over <paramref name="length"/> bytes from <paramref name="offset"/> (relative to where the write starts in the content).</summary>
    public Stream Window(long offset, long length) => new ContentWindow(this, offset, length);

    /// <summary>Stops every window from reading the content, waiting for a read in progress to finish.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
        }
    }

    /// <summary>Reads from <paramref name="offset"/> (synchronously: the content is seekable, typically in memory).</summary>
    private int Read(long offset, Span<byte> destination)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            long at = start + offset;
            if (content.Position != at)
            {
                content.Position = at;
            }

            return content.Read(destination);
        }
    }

    /// <summary>
    /// A read-only, seekable view of one byte range of the content, positioned from 0, so the SDK can send (and hash) it as one
    /// request body of known length (and rewind it for a retry).
    /// </summary>
    private sealed class ContentWindow(SeekableContent source, long offset, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set
            {
                ArgumentOutOfRangeException.ThrowIfNegative(value);
                _position = value;
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int wanted = (int)Math.Min(buffer.Length, Math.Max(0, length - _position));
            if (wanted == 0)
            {
                return 0;
            }

            int read = source.Read(offset + _position, buffer[..wanted]);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(Read(buffer.Span));
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            Position = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => _position + offset,
                SeekOrigin.End => length + offset,
                _ => throw new ArgumentOutOfRangeException(nameof(origin)),
            };
            return _position;
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
