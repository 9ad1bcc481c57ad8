using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// Reads what <see cref="StateWriter"/> wrote, from a stream, through a buffer, keeping a running CRC-32 of every byte
/// consumed. Every read that runs out of bytes or finds an impossible value throws <see cref="StateCorruptException"/>.
/// </summary>
internal sealed class StateReader : IDisposable
{
    private const int BufferSize = 64 * 1024;

    /// <summary>The largest string accepted, in bytes (a file name or a key is far smaller).</summary>
    private const int MaxStringBytes = 64 * 1024 * 1024;

    private readonly Stream _source;
    private readonly Crc32 _crc = new();
    private byte[] _buffer;
    private int _position;
    private int _end;
    private int _hashedUpTo;
    private bool _endOfStream;

    public StateReader(Stream source)
    {
        _source = source;
        _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    }

    /// <summary>Gets or sets the format version of the state being read (from its prefix), which decides the layout of the sections added after version 1.</summary>
    public int FormatVersion { get; set; } = PipelineStateFormat.BaseVersion;

    /// <summary>Gets the number of bytes consumed so far.</summary>
    public long BytesRead { get; private set; }

    public async ValueTask<byte> ReadByteAsync(CancellationToken cancellationToken)
    {
        await EnsureAsync(1, cancellationToken).ConfigureAwait(false);
        byte value = _buffer[_position];
        Consume(1);
        return value;
    }

    public async ValueTask<bool> ReadBoolAsync(CancellationToken cancellationToken)
    {
        byte value = await ReadByteAsync(cancellationToken).ConfigureAwait(false);
        return value switch
        {
            0 => false,
            1 => true,
            _ => throw new StateCorruptException($"a flag byte is {value}, not 0 or 1 (at byte {BytesRead - 1})."),
        };
    }

    public async ValueTask<int> ReadInt32Async(CancellationToken cancellationToken)
    {
        await EnsureAsync(4, cancellationToken).ConfigureAwait(false);
        int value = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_position, 4));
        Consume(4);
        return value;
    }

    public async ValueTask<uint> ReadUInt32Async(CancellationToken cancellationToken)
    {
        await EnsureAsync(4, cancellationToken).ConfigureAwait(false);
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_position, 4));
        Consume(4);
        return value;
    }

    public async ValueTask<long> ReadInt64Async(CancellationToken cancellationToken)
    {
        await EnsureAsync(8, cancellationToken).ConfigureAwait(false);
        long value = BinaryPrimitives.ReadInt64LittleEndian(_buffer.AsSpan(_position, 8));
        Consume(8);
        return value;
    }

    public async ValueTask<ulong> ReadUInt64Async(CancellationToken cancellationToken)
    {
        await EnsureAsync(8, cancellationToken).ConfigureAwait(false);
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_position, 8));
        Consume(8);
        return value;
    }

    /// <summary>Reads an Int32 that must lie in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public async ValueTask<int> ReadInt32Async(int min, int max, string what, CancellationToken cancellationToken)
    {
        int value = await ReadInt32Async(cancellationToken).ConfigureAwait(false);
        return value < min || value > max
            ? throw new StateCorruptException($"{what} is {value}, outside [{min}, {max}].")
            : value;
    }

    /// <summary>Reads an Int64 that must lie in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public async ValueTask<long> ReadInt64Async(long min, long max, string what, CancellationToken cancellationToken)
    {
        long value = await ReadInt64Async(cancellationToken).ConfigureAwait(false);
        return value < min || value > max
            ? throw new StateCorruptException($"{what} is {value}, outside [{min}, {max}].")
            : value;
    }

    public async ValueTask<string?> ReadStringAsync(CancellationToken cancellationToken)
    {
        int length = await ReadInt32Async(-1, MaxStringBytes, "a string length", cancellationToken).ConfigureAwait(false);
        if (length < 0)
        {
            return null;
        }

        byte[] bytes = await ReadRawAsync(length, cancellationToken).ConfigureAwait(false);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new StateCorruptException("a string is not valid UTF-8.", ex);
        }
    }

    public async ValueTask<string> ReadRequiredStringAsync(string what, CancellationToken cancellationToken) =>
        await ReadStringAsync(cancellationToken).ConfigureAwait(false)
        ?? throw new StateCorruptException($"{what} is missing (null).");

    /// <summary>Reads an Int32 length and that many bytes.</summary>
    public async ValueTask<byte[]> ReadBlobAsync(int maxLength, string what, CancellationToken cancellationToken)
    {
        int length = await ReadInt32Async(0, maxLength, what + " length", cancellationToken).ConfigureAwait(false);
        return await ReadRawAsync(length, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads <paramref name="length"/> bytes into a new array. The array grows as the bytes arrive, so a damaged,
    /// huge length fails at the end of the stream instead of allocating it all up front.
    /// </summary>
    public async ValueTask<byte[]> ReadRawAsync(int length, CancellationToken cancellationToken)
    {
        const int Chunk = 1024 * 1024;
        byte[] result = new byte[Math.Min(length, Chunk)];
        int filled = 0;
        while (filled < length)
        {
            if (_position == _end)
            {
                await FillAsync(cancellationToken).ConfigureAwait(false);
                if (_position == _end)
                {
                    throw new StateCorruptException($"the state ends {length - filled} bytes early (at byte {BytesRead}).");
                }
            }

            if (filled == result.Length)
            {
                Array.Resize(ref result, (int)Math.Min(length, (long)result.Length * 2));
            }

            int take = Math.Min(Math.Min(_end - _position, length - filled), result.Length - filled);
            _buffer.AsSpan(_position, take).CopyTo(result.AsSpan(filled));
            Consume(take);
            filled += take;
        }

        return result;
    }

    /// <summary>Reads one element written by <see cref="StateWriter.WriteElement{T}"/>.</summary>
    public async ValueTask<T> ReadElementAsync<T>(IElementCodec<T> codec, CancellationToken cancellationToken)
    {
        int length = await ReadInt32Async(0, int.MaxValue, "an element length", cancellationToken).ConfigureAwait(false);
        if (length <= _buffer.Length)
        {
            await EnsureAsync(length, cancellationToken).ConfigureAwait(false);
            T value = Decode(codec, _buffer.AsSpan(_position, length));
            Consume(length);
            return value;
        }

        byte[] bytes = await ReadRawAsync(length, cancellationToken).ConfigureAwait(false);
        return Decode(codec, bytes);
    }

    /// <summary>Returns the CRC-32 of every byte consumed so far.</summary>
    public uint CurrentCrc()
    {
        HashConsumed();
        return _crc.GetCurrentHashAsUInt32();
    }

    /// <summary>Reads the trailing CRC-32 (not hashed itself) and compares it with the bytes consumed before it.</summary>
    public async ValueTask VerifyTrailerAsync(CancellationToken cancellationToken)
    {
        uint expected = CurrentCrc();
        await EnsureAsync(4, cancellationToken).ConfigureAwait(false);
        uint found = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_position, 4));
        _position += 4;
        _hashedUpTo = _position;
        BytesRead += 4;
        if (found != expected)
        {
            throw new StateCorruptException($"checksum mismatch: the state records CRC-32 {found:x8}, its bytes hash to {expected:x8}.");
        }
    }

    /// <summary>
    /// After a failed parse: consumes the rest of the stream and returns whether its last four bytes are the CRC-32 of
    /// everything before them, that is whether the bytes are intact (so the failure is not caused by damage).
    /// </summary>
    public async ValueTask<bool> RestIsIntactAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int unread = _end - _position;
            if (unread > 4)
            {
                Consume(unread - 4);
            }

            if (_endOfStream)
            {
                break;
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_end - _position < 4)
        {
            return false;
        }

        uint expected = CurrentCrc();
        uint found = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_position, 4));
        return found == expected;
    }

    /// <summary>Returns whether the stream has no byte left.</summary>
    public async ValueTask<bool> AtEndAsync(CancellationToken cancellationToken)
    {
        if (_position < _end)
        {
            return false;
        }

        await FillAsync(cancellationToken).ConfigureAwait(false);
        return _position == _end;
    }

    /// <summary>Consumes the rest of the stream (hashing it) and returns the number of bytes skipped.</summary>
    public async ValueTask<long> DrainAsync(CancellationToken cancellationToken)
    {
        long skipped = 0;
        while (true)
        {
            if (_position == _end)
            {
                await FillAsync(cancellationToken).ConfigureAwait(false);
                if (_position == _end)
                {
                    return skipped;
                }
            }

            int take = _end - _position;
            Consume(take);
            skipped += take;
        }
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

    private static T Decode<T>(IElementCodec<T> codec, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return codec.Read(bytes);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not StateCorruptException)
        {
            throw new StateCorruptException($"codec \"{codec.Name}\" could not read a buffered element of {bytes.Length} bytes: {ex.Message}", ex);
        }
    }

    private void Consume(int count)
    {
        _position += count;
        BytesRead += count;
    }

    private void HashConsumed()
    {
        if (_position > _hashedUpTo)
        {
            _crc.Append(_buffer.AsSpan(_hashedUpTo, _position - _hashedUpTo));
            _hashedUpTo = _position;
        }
    }

    private async ValueTask EnsureAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _position < count)
        {
            int before = _end - _position;
            await FillAsync(cancellationToken).ConfigureAwait(false);
            if (_end - _position == before)
            {
                throw new StateCorruptException($"the state ends early (at byte {BytesRead + before}, {count - before} more bytes needed).");
            }
        }
    }

    /// <summary>Moves the unread bytes to the front (growing the buffer when full) and reads more; no-op at the end of the stream.</summary>
    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_endOfStream)
        {
            return;
        }

        HashConsumed();
        int unread = _end - _position;
        if (_position > 0)
        {
            Buffer.BlockCopy(_buffer, _position, _buffer, 0, unread);
            _position = 0;
            _hashedUpTo = 0;
            _end = unread;
        }

        if (_end == _buffer.Length)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        int read = await _source.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            _endOfStream = true;
        }

        _end += read;
    }
}

/// <summary>The saved bytes are damaged or impossible; the pipeline iterator turns it into a <see cref="CheckpointCorruptedException"/>.</summary>
internal sealed class StateCorruptException : Exception
{
    public StateCorruptException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The saved state was made by a differently built pipeline; becomes a <see cref="CheckpointMismatchException"/>.</summary>
internal sealed class StructureMismatchException : Exception
{
    public StructureMismatchException(string message)
        : base(message)
    {
    }
}
