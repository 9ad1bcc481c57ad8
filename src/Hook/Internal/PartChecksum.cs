using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>The checksum parts are written with: XXH3 64-bit, printed as <c>xxh3:</c> and 16 lowercase hex digits.</summary>
internal static class PartChecksum
{
    public const string Algorithm = "xxh3";

    public static string Format(XxHash3 hash)
    {
        Span<byte> bytes = stackalloc byte[8];
        hash.GetCurrentHash(bytes);
        return Algorithm + ":" + Convert.ToHexStringLower(bytes);
    }

    public static string Compute(ReadOnlySpan<byte> data)
    {
        ulong value = XxHash3.HashToUInt64(data);
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return Algorithm + ":" + Convert.ToHexStringLower(bytes);
    }

    public static bool IsSupported(string checksum) =>
        checksum.StartsWith(Algorithm + ":", StringComparison.Ordinal)
        && checksum.Length == Algorithm.Length + 1 + 16
        && ulong.TryParse(checksum.AsSpan(Algorithm.Length + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _);
}

/// <summary>A write-only stream that hashes and counts what passes through it to an inner stream.</summary>
internal sealed class HashingWriteStream(Stream inner) : Stream
{
    private readonly XxHash3 _hash = new();

    public long BytesWritten { get; private set; }

    public string Checksum => PartChecksum.Format(_hash);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesWritten;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.Append(buffer);
        BytesWritten += buffer.Length;
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.Append(buffer.Span);
        BytesWritten += buffer.Length;
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// A read-only stream over a part that checks, when its end is reached, that the length and checksum match the
/// manifest; a mismatch surfaces as <see cref="CheckpointCorruptedException"/> from the read that reaches the end.
/// It never yields more than the expected length, so trailing garbage is reported rather than consumed.
/// </summary>
internal sealed class VerifyingReadStream(Stream inner, string key, long expectedLength, string expectedChecksum) : Stream
{
    /// <summary>
    /// The size of the chunks a large read is split into: each chunk is hashed while it is still in the CPU's cache,
    /// and while the next chunk is being read (see <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>).
    /// </summary>
    private const int ChunkSize = 1024 * 1024;
    private readonly XxHash3 _hash = new();
    private long _position;
    private bool _verified;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => expectedLength;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public bool IsVerified => _verified;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_verified || buffer.IsEmpty)
        {
            return 0;
        }

        int wanted = (int)Math.Min(Math.Min(buffer.Length, ChunkSize), expectedLength - _position);
        if (wanted == 0)
        {
            VerifyAtEnd(inner.Read(stackalloc byte[1]));
            return 0;
        }

        int read = inner.Read(buffer[..wanted]);
        return Account(buffer[..read], read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_verified || buffer.IsEmpty)
        {
            return 0;
        }

        int wanted = (int)Math.Min(buffer.Length, expectedLength - _position);
        if (wanted == 0)
        {
            byte[] probe = new byte[1];
            VerifyAtEnd(await inner.ReadAsync(probe, cancellationToken).ConfigureAwait(false));
            return 0;
        }

        // A large read is split into chunks, and each chunk is hashed while the inner stream reads the next one into
        // the same caller's buffer (a file read runs on another thread; a network read copies from the socket): the
        // hash then costs almost no time on top of the read itself. Every byte returned has been hashed before this
        // call returns, so the caller may reuse its buffer at once.
        int read = await inner.ReadAsync(buffer[..Math.Min(wanted, ChunkSize)], cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return Account(ReadOnlySpan<byte>.Empty, 0);
        }

        int filled = 0;
        while (true)
        {
            int next = filled + read;
            ValueTask<int> pending = next < wanted
                ? inner.ReadAsync(buffer[next..Math.Min(wanted, next + ChunkSize)], cancellationToken)
                : ValueTask.FromResult(0);
            Account(buffer.Span[filled..next], read);
            filled = next;
            read = await pending.ConfigureAwait(false);
            if (read == 0)
            {
                // Either all that was asked for is here, or the inner stream ended early: the next read reports it.
                return filled;
            }
        }
    }

    /// <summary>Reads whatever the consumer left unread, so the whole part is verified.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[81920];
        while (await ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
        {
        }
    }

    private int Account(ReadOnlySpan<byte> data, int read)
    {
        if (read == 0)
        {
            throw new CheckpointCorruptedException(key, $"the part is truncated: {_position} of {expectedLength} bytes present.");
        }

        _hash.Append(data);
        _position += read;
        return read;
    }

    private void VerifyAtEnd(int extraBytes)
    {
        if (extraBytes > 0)
        {
            throw new CheckpointCorruptedException(key, $"the part is longer than the {expectedLength} bytes its manifest records.");
        }

        string actual = PartChecksum.Format(_hash);
        if (!string.Equals(actual, expectedChecksum, StringComparison.Ordinal))
        {
            throw new CheckpointCorruptedException(key, $"checksum mismatch: the manifest records {expectedChecksum}, the part hashes to {actual}.");
        }

        _verified = true;
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
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
