// Shared source: compiled into each cloud provider package (linked from its .csproj).
using System.Buffers;

namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// A buffer rented from <see cref="ArrayPool{T}.Shared"/> with a fill length; it can grow (renting a larger array and
/// returning the old one) and is returned to the pool once, on the first <see cref="Dispose"/>.
/// </summary>
internal sealed class PooledBuffer : IDisposable
{
    private byte[]? _array;

    public PooledBuffer(int size)
    {
        _array = ArrayPool<byte>.Shared.Rent(size);
    }

    /// <summary>Gets the rented array (which may be longer than asked for).</summary>
    public byte[] Array => _array ?? throw new ObjectDisposedException(nameof(PooledBuffer));

    /// <summary>Gets or sets the number of bytes filled.</summary>
    public int Length { get; set; }

    /// <summary>Makes room for at least <paramref name="size"/> bytes, keeping the bytes filled.</summary>
    public void EnsureCapacity(int size)
    {
        byte[] current = Array;
        if (current.Length >= size)
        {
            return;
        }

        byte[] larger = ArrayPool<byte>.Shared.Rent(size);
        current.AsSpan(0, Length).CopyTo(larger);
        _array = larger;
        ArrayPool<byte>.Shared.Return(current);
    }

    /// <summary>Reads from <paramref name="content"/> until <paramref name="limit"/> bytes are filled or the content ends, growing by doubling.</summary>
    /// <returns><see langword="true"/> if the content ended.</returns>
    public async Task<bool> FillAsync(Stream content, int limit, bool grow, CancellationToken cancellationToken)
    {
        while (Length < limit)
        {
            if (grow && Length == Array.Length)
            {
                EnsureCapacity(Math.Min(limit, Array.Length * 2));
            }

            cancellationToken.ThrowIfCancellationRequested(); // the content stream may ignore the token
            int read = await content.ReadAsync(Array.AsMemory(Length, Math.Min(Array.Length, limit) - Length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return true;
            }

            Length += read;
        }

        cancellationToken.ThrowIfCancellationRequested();
        return false;
    }

    /// <summary>Returns the array to the pool; later calls do nothing.</summary>
    public void Dispose()
    {
        byte[]? array = Interlocked.Exchange(ref _array, null);
        if (array is not null)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
