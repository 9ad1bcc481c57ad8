using System.Text;
using Microsoft.Win32.SafeHandles;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>
/// The <c>ckpt</c> executable's standard output when it is a pipe or a file. <see cref="Console.Out"/> silently drops
/// what it cannot write once the reading end of a pipe has closed (EPIPE), so <c>ckpt list --watch | head</c> would
/// refresh forever into nothing. Writing to file descriptor 1 directly surfaces that error; this stream records it as
/// <see cref="ReaderClosed"/> and, like the console, drops the rest, so a one-shot command ends as it would have and a
/// watch can stop (see <see cref="IsReaderClosed(TextWriter)"/>).
/// </summary>
internal sealed class RedirectedOutput : Stream
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TextWriter, RedirectedOutput> Created = [];
    private readonly Stream _inner;
    private volatile bool _readerClosed;

    private RedirectedOutput(Stream inner) => _inner = inner;

    /// <summary>Gets whether a write failed because nothing reads the output any more.</summary>
    public bool ReaderClosed => _readerClosed;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// Returns a writer over standard output: over file descriptor 1 when output is redirected on Unix, so that a closed
    /// pipe is noticed; otherwise <see cref="Console.Out"/>.
    /// </summary>
    public static TextWriter CreateWriter()
    {
        if (OperatingSystem.IsWindows() || !Console.IsOutputRedirected)
        {
            return Console.Out;
        }

        var handle = new SafeFileHandle(1, ownsHandle: false);
        var stream = new RedirectedOutput(new FileStream(handle, FileAccess.Write, bufferSize: 0));

        // Synchronized and flushed after every write, as Console.Out is.
        TextWriter writer = TextWriter.Synchronized(
            new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: true) { AutoFlush = true });
        Created.TryAdd(writer, stream);
        return writer;
    }

    /// <summary>Returns whether <paramref name="writer"/> is one <see cref="CreateWriter"/> made and its reader has gone.</summary>
    public static bool IsReaderClosed(TextWriter writer) =>
        Created.TryGetValue(writer, out RedirectedOutput? stream) && stream.ReaderClosed;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_readerClosed)
        {
            return;
        }

        try
        {
            _inner.Write(buffer);
        }
        catch (IOException)
        {
            _readerClosed = true;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readerClosed)
        {
            return;
        }

        try
        {
            await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            _readerClosed = true;
        }
    }

    public override void Flush()
    {
        // Nothing is buffered here: every write goes straight to the descriptor.
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
