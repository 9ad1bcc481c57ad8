using System.Security.Cryptography;

namespace GcsEmulator.Storage;

/// <summary>
/// Append-only byte store made of separately allocated segments, so growing it never copies
/// what was already written. Request bodies are read straight into the segments; once an upload
/// is finalized the buffer is never written again and is shared read-only by downloads.
/// </summary>
internal sealed class SegmentedBuffer
{
    private const int MinSegmentSize = 64 * 1024;
    private const int MaxSegmentSize = 4 * 1024 * 1024;

    private readonly List<byte[]> _segments = [];
    private readonly List<long> _segmentStarts = [];
    private long _capacity;

    /// <summary>Number of bytes written.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Reads <paramref name="source"/> to its end (or until <paramref name="maxBytes"/> bytes were
    /// appended) and returns the number of bytes appended. <paramref name="sizeHint"/> (usually the
    /// request's Content-Length) sizes the segments. Exceptions (for example an aborted request)
    /// propagate; the caller decides whether to <see cref="Truncate"/> back.
    /// </summary>
    public async Task<long> AppendFromAsync(Stream source, long? sizeHint, long? maxBytes, CancellationToken cancellationToken)
    {
        long appended = 0;
        while (maxBytes is null || appended < maxBytes.Value)
        {
            var remainingHint = sizeHint is { } hint ? hint - appended : (long?)null;
            if (remainingHint is <= 0)
            {
                // The declared length has been read: probe for end of stream without allocating a segment.
                var probe = new byte[1];
                if (await source.ReadAsync(probe, cancellationToken) == 0)
                {
                    return appended;
                }
                Append(probe);
                appended++;
                sizeHint = null;
                continue;
            }

            var memory = GetWritableMemory(remainingHint);
            if (maxBytes is { } max && memory.Length > max - appended)
            {
                memory = memory[..(int)(max - appended)];
            }
            var read = await source.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return appended;
            }
            Length += read;
            appended += read;
        }
        return appended;
    }

    /// <summary>Appends bytes already in memory.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var memory = GetWritableMemory(data.Length);
            var count = Math.Min(memory.Length, data.Length);
            data[..count].CopyTo(memory.Span);
            Length += count;
            data = data[count..];
        }
    }

    /// <summary>Discards everything after the first <paramref name="length"/> bytes.</summary>
    public void Truncate(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        Length = length;
        while (_segments.Count > 0 && _segmentStarts[^1] >= length)
        {
            _capacity -= _segments[^1].Length;
            _segments.RemoveAt(_segments.Count - 1);
            _segmentStarts.RemoveAt(_segmentStarts.Count - 1);
        }
    }

    /// <summary>Writes bytes [<paramref name="offset"/>, <paramref name="offset"/>+<paramref name="count"/>) to <paramref name="destination"/>.</summary>
    public async Task CopyToAsync(Stream destination, long offset, long count, CancellationToken cancellationToken)
    {
        foreach (var chunk in Slices(offset, count))
        {
            await destination.WriteAsync(chunk, cancellationToken);
        }
    }

    /// <summary>Copies the whole content into a new array (for tests and small objects).</summary>
    public byte[] ToArray()
    {
        var result = new byte[Length];
        var position = 0;
        foreach (var chunk in Slices(0, Length))
        {
            chunk.Span.CopyTo(result.AsSpan(position));
            position += chunk.Length;
        }
        return result;
    }

    /// <summary>Computes the MD5 and CRC-32C of the content.</summary>
    public (byte[] Md5, uint Crc32C) ComputeHashes()
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var crc = GcsEmulator.Crc32C.InitialState;
        foreach (var chunk in Slices(0, Length))
        {
            md5.AppendData(chunk.Span);
            crc = GcsEmulator.Crc32C.Append(crc, chunk.Span);
        }
        return (md5.GetHashAndReset(), GcsEmulator.Crc32C.Finish(crc));
    }

    private IEnumerable<ReadOnlyMemory<byte>> Slices(long offset, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + count, Length);
        if (count == 0)
        {
            yield break;
        }

        var index = _segmentStarts.BinarySearch(offset);
        if (index < 0)
        {
            index = ~index - 1;
        }
        var remaining = count;
        var position = offset;
        while (remaining > 0)
        {
            var segment = _segments[index];
            var within = (int)(position - _segmentStarts[index]);
            var take = (int)Math.Min(segment.Length - within, remaining);
            yield return new ReadOnlyMemory<byte>(segment, within, take);
            remaining -= take;
            position += take;
            index++;
        }
    }

    private Memory<byte> GetWritableMemory(long? wanted)
    {
        if (Length == _capacity)
        {
            int size;
            if (wanted is > 0)
            {
                size = (int)Math.Min(wanted.Value, MaxSegmentSize);
            }
            else
            {
                var previous = _segments.Count == 0 ? MinSegmentSize / 2 : _segments[^1].Length;
                size = (int)Math.Clamp(previous * 2L, MinSegmentSize, MaxSegmentSize);
            }
            _segmentStarts.Add(_capacity);
            _segments.Add(new byte[size]);
            _capacity += size;
        }

        var last = _segments[^1];
        var used = (int)(Length - _segmentStarts[^1]);
        return last.AsMemory(used);
    }
}
