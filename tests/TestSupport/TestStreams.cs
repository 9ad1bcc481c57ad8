using System.Buffers.Binary;
using System.Security.Cryptography;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>
/// A read-only stream of deterministic pseudo-random bytes, generated on the fly (no buffer holds the content),
/// optionally seekable. The byte at a position depends only on the seed and the position.
/// </summary>
public sealed class GeneratedStream : Stream
{
    private readonly long _length;
    private readonly ulong _seed;
    private readonly bool _seekable;
    private long _position;

    /// <summary>Creates the stream.</summary>
    /// <param name="length">The number of bytes it yields.</param>
    /// <param name="seed">Selects the content.</param>
    /// <param name="seekable">Whether the stream reports and accepts positions and a length.</param>
    public GeneratedStream(long length, int seed, bool seekable = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _length = length;
        _seed = (ulong)seed * 0x9E3779B97F4A7C15UL;
        _seekable = seekable;
    }

    /// <summary>Gets the number of bytes read so far (also for a non-seekable stream).</summary>
    public long BytesRead => _position;

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => _seekable;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => _seekable ? _length : throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => _seekable ? _position : throw new NotSupportedException();
        set
        {
            if (!_seekable)
            {
                throw new NotSupportedException();
            }

            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    /// <summary>Computes the SHA-256 of the bytes from <paramref name="offset"/> to the end of a stream with this length and seed.</summary>
    public static byte[] Hash(long length, int seed, long offset = 0)
    {
        using var stream = new GeneratedStream(length, seed) { Position = offset };
        return SHA256.HashData(stream);
    }

    /// <summary>Returns the bytes of a small generated stream.</summary>
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        using var stream = new GeneratedStream(length, seed);
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        long remaining = _length - _position;
        if (remaining <= 0 || buffer.IsEmpty)
        {
            return 0;
        }

        int count = (int)Math.Min(buffer.Length, remaining);
        Fill(buffer[..count], _position);
        _position += count;
        return count;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        return _position;
    }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private void Fill(Span<byte> destination, long position)
    {
        Span<byte> block = stackalloc byte[8];
        while (!destination.IsEmpty)
        {
            int within = (int)(position & 7);
            ulong value = Mix(_seed + (ulong)(position >> 3));
            if (within == 0 && destination.Length >= 8)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(destination, value);
                destination = destination[8..];
                position += 8;
                continue;
            }

            BinaryPrimitives.WriteUInt64LittleEndian(block, value);
            int take = Math.Min(8 - within, destination.Length);
            block.Slice(within, take).CopyTo(destination);
            destination = destination[take..];
            position += take;
        }
    }

    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}

/// <summary>A read-only, non-seekable view of another stream (as a network or pipe stream would be).</summary>
public sealed class NonSeekableStream(Stream inner) : Stream
{
    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A slow, non-seekable content stream that cancels a token once a given number of bytes has been read, then keeps
/// yielding data (slowly) as an uncooperative producer would, so the store itself must notice the cancellation.
/// </summary>
public sealed class CancellingStream : Stream
{
    private const int ChunkSize = 64 * 1024;
    private readonly GeneratedStream _inner;
    private readonly long _cancelAfter;
    private readonly CancellationTokenSource _source;

    /// <summary>Creates the stream.</summary>
    /// <param name="length">The total content length.</param>
    /// <param name="cancelAfter">The number of bytes after which <paramref name="source"/> is cancelled.</param>
    /// <param name="source">The token source to cancel.</param>
    public CancellingStream(long length, long cancelAfter, CancellationTokenSource source)
    {
        _inner = new GeneratedStream(length, seed: 7, seekable: false);
        _cancelAfter = cancelAfter;
        _source = source;
    }

    /// <summary>Gets whether the token source was cancelled by this stream.</summary>
    public bool Cancelled { get; private set; }

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        if (Cancelled)
        {
            Thread.Sleep(1);
        }

        int read = _inner.Read(buffer[..Math.Min(buffer.Length, ChunkSize)]);
        if (!Cancelled && _inner.BytesRead >= _cancelAfter)
        {
            Cancelled = true;
            _source.Cancel();
        }

        return read;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask();

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Cancelled)
        {
            await Task.Delay(1, CancellationToken.None);
        }

        int read = _inner.Read(buffer.Span[..Math.Min(buffer.Length, ChunkSize)]);
        if (!Cancelled && _inner.BytesRead >= _cancelAfter)
        {
            Cancelled = true;
            await _source.CancelAsync();
        }

        return read;
    }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
