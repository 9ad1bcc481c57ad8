using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// Writes a pipeline state in little-endian binary form, straight to the destination stream in chunks of about
/// <see cref="FlushThreshold"/> bytes, so a large buffer is never held twice in serialised form. Keeps a running CRC-32
/// of every byte written.
/// </summary>
internal sealed class StateWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>The number of buffered bytes past which <see cref="MaybeFlushAsync"/> writes to the destination.</summary>
    public const int FlushThreshold = 64 * 1024;

    private readonly Stream _destination;
    private readonly Crc32 _crc = new();
    private byte[] _buffer;
    private int _count;

    public StateWriter(Stream destination)
    {
        _destination = destination;
        _buffer = ArrayPool<byte>.Shared.Rent(FlushThreshold * 2);
    }

    /// <summary>Gets the format version of the state being written, which decides the layout of the sections added after version 1.</summary>
    public int FormatVersion { get; init; } = PipelineStateFormat.BaseVersion;

    /// <summary>Gets the number of bytes written so far (flushed or buffered).</summary>
    public long BytesWritten { get; private set; }

    public void WriteByte(byte value)
    {
        GetSpan(1)[0] = value;
        Advance(1);
    }

    public void WriteBool(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(GetSpan(4), value);
        Advance(4);
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(GetSpan(4), value);
        Advance(4);
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(GetSpan(8), value);
        Advance(8);
    }

    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(GetSpan(8), value);
        Advance(8);
    }

    /// <summary>Writes an Int32 byte count and the UTF-8 bytes, or -1 for null.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt32(-1);
            return;
        }

        int length = Encoding.UTF8.GetByteCount(value);
        WriteInt32(length);
        Encoding.UTF8.GetBytes(value, GetSpan(length));
        Advance(length);
    }

    /// <summary>Writes an Int32 length and the bytes.</summary>
    public void WriteBlob(ReadOnlySpan<byte> bytes)
    {
        WriteInt32(bytes.Length);
        WriteRaw(bytes);
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Advance(bytes.Length);
    }

    /// <summary>Writes one element through its codec, framed by an Int32 length.</summary>
    public void WriteElement<T>(IElementCodec<T> codec, T value)
    {
        // Reserve the length, let the codec write in place, then fill the length in. No flush happens in between,
        // so the reserved bytes stay in the buffer even if it grows.
        GetSpan(4);
        int lengthAt = _count;
        Advance(4);
        long before = BytesWritten;
        codec.Write(value, this);
        long length = BytesWritten - before;
        if (length > int.MaxValue)
        {
            throw new InvalidOperationException($"Codec \"{codec.Name}\" wrote an element of {length} bytes; at most {int.MaxValue} bytes per element are supported.");
        }

        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(lengthAt, 4), (int)length);
    }

    /// <summary>Gets the bytes buffered and not yet flushed (for building small blobs in memory).</summary>
    public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(0, _count);

    /// <summary>Writes the buffered bytes to the destination once there are more than <see cref="FlushThreshold"/>.</summary>
    public ValueTask MaybeFlushAsync(CancellationToken cancellationToken) =>
        _count >= FlushThreshold ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;

    /// <summary>Writes every buffered byte to the destination.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_count == 0)
        {
            return;
        }

        _crc.Append(_buffer.AsSpan(0, _count));
        await _destination.WriteAsync(_buffer.AsMemory(0, _count), cancellationToken).ConfigureAwait(false);
        _count = 0;
    }

    /// <summary>Flushes, then writes the CRC-32 of every byte written so far (the CRC itself is not hashed).</summary>
    public async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        uint crc = _crc.GetCurrentHashAsUInt32();
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(0, 4), crc);
        await _destination.WriteAsync(_buffer.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        BytesWritten += 4;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_count + count > _buffer.Length)
        {
            throw new InvalidOperationException("Advanced past the end of the span.");
        }

        _count += count;
        BytesWritten += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_count);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_count);
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _count >= needed)
        {
            return;
        }

        long size = Math.Max((long)_buffer.Length * 2, (long)_count + needed);
        byte[] bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(size, Array.MaxLength));
        _buffer.AsSpan(0, _count).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
