using System.Buffers;
using System.Net;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// A seekable content stream that several request bodies read from, one byte range each, with no copy of the whole
/// content: each body seeks the stream to its own position before every read, under a lock shared by all the bodies of
/// one upload, so a body an aborted request is still sending cannot move the stream under the next one. Once the upload
/// is over (<see cref="Close"/>), no body reads the stream any more.
/// </summary>
internal sealed class SeekableContentWindow(Stream content, long start)
{
    /// <summary>The most bytes a body copies from the content per write to the connection.</summary>
    private const int CopySize = 1024 * 1024;

    private readonly Lock _gate = new();
    private bool _closed;

    /// <summary>Returns a request body of <paramref name="count"/> bytes from <paramref name="offset"/> (relative to where the upload starts in the content).</summary>
    public HttpContent Body(long offset, long count) => new WindowContent(this, offset, count);

    /// <summary>Stops every body from reading the content, waiting for a read in progress to finish.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
        }
    }

    /// <summary>Reads up to <paramref name="destination"/>'s length from <paramref name="offset"/> (synchronously: the content is seekable, typically in memory).</summary>
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

    private sealed class WindowContent(SeekableContentWindow window, long offset, long count) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(CopySize, Math.Max(count, 1)));
            try
            {
                long sent = 0;
                while (sent < count)
                {
                    int read = window.Read(offset + sent, buffer.AsSpan(0, (int)Math.Min(buffer.Length, count - sent)));
                    if (read == 0)
                    {
                        throw new IOException($"The content ended {count - sent} bytes before the length it reported.");
                    }

                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    sent += read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = count;
            return true;
        }
    }
}
