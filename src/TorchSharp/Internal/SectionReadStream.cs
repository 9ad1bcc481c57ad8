namespace InputPipeline.Checkpointing.TorchSharp.Internal;

/// <summary>
/// A read-only view of <paramref name="length"/> bytes of a seekable stream from <paramref name="offset"/>: a reader that
/// expects more than its section holds hits the end of the section, not the next section's bytes.
/// </summary>
/// <param name="inner">The seekable stream; only this view moves its position while the view is in use.</param>
/// <param name="offset">Where the section starts.</param>
/// <param name="length">How many bytes the section holds.</param>
internal sealed class SectionReadStream(Stream inner, long offset, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset1, int count) => Read(buffer.AsSpan(offset1, count));

    public override int Read(Span<byte> buffer)
    {
        int count = (int)Math.Min(length - _position, buffer.Length);
        if (count <= 0)
        {
            return 0;
        }

        inner.Position = offset + _position;
        int read = inner.Read(buffer[..count]);
        _position += read;
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset1, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset1, int count) => throw new NotSupportedException();
}
