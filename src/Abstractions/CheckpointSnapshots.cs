using System.Buffers;

namespace InputPipeline.Checkpointing;

/// <summary>Ready-made <see cref="ICheckpointSnapshot"/> implementations.</summary>
public static class CheckpointSnapshots
{
    /// <summary>Creates a snapshot over bytes the caller has already copied; the bytes must not change afterwards.</summary>
    /// <param name="bytes">The state bytes; owned by the snapshot from now on.</param>
    /// <returns>The snapshot, an <see cref="IBufferedCheckpointSnapshot"/>: it is uploaded straight from memory.</returns>
    public static ICheckpointSnapshot FromBytes(ReadOnlyMemory<byte> bytes) => new BytesSnapshot(bytes);

    /// <summary>Creates a snapshot that copies <paramref name="bytes"/> now, so the caller may reuse its buffer.</summary>
    /// <param name="bytes">The state bytes to copy.</param>
    /// <returns>The snapshot, an <see cref="IBufferedCheckpointSnapshot"/>: it is uploaded straight from memory.</returns>
    /// <remarks>
    /// The copy goes into a buffer rented from <see cref="ArrayPool{T}.Shared"/>, returned when the snapshot is
    /// disposed (the checkpoint manager disposes it once written). A state copied at every checkpoint so reuses the
    /// same memory instead of allocating, zeroing and faulting in a new array each time, which for a large state costs
    /// the training thread several times the copy itself.
    /// </remarks>
    public static ICheckpointSnapshot CopyOf(ReadOnlySpan<byte> bytes)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(buffer);
        return new PooledSnapshot(buffer, bytes.Length);
    }

    /// <summary>Creates a snapshot whose bytes are produced later, on the upload thread, by <paramref name="write"/>.</summary>
    /// <param name="write">Writes the state; it must only use data that no longer changes.</param>
    /// <param name="length">The number of bytes it writes, if known.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="write"/> is null.</exception>
    public static ICheckpointSnapshot FromWriter(Func<Stream, CancellationToken, ValueTask> write, long? length = null)
    {
        ArgumentNullException.ThrowIfNull(write);
        return new DelegateSnapshot(write, length);
    }

    private sealed class BytesSnapshot(ReadOnlyMemory<byte> bytes) : IBufferedCheckpointSnapshot
    {
        public long? Length => bytes.Length;

        public ReadOnlyMemory<byte> Buffer => bytes;

        public ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(destination);
            return destination.WriteAsync(bytes, cancellationToken);
        }

        public void Dispose()
        {
        }
    }

    private sealed class PooledSnapshot(byte[] buffer, int length) : IBufferedCheckpointSnapshot
    {
        private byte[]? _buffer = buffer;

        public long? Length => length;

        public ReadOnlyMemory<byte> Buffer => Volatile.Read(ref _buffer) is { } bytes
            ? bytes.AsMemory(0, length)
            : throw new ObjectDisposedException(nameof(ICheckpointSnapshot), "The snapshot was disposed; its buffer went back to the pool.");

        public ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(destination);
            return destination.WriteAsync(Buffer, cancellationToken);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _buffer, null) is { } bytes)
            {
                ArrayPool<byte>.Shared.Return(bytes);
            }
        }
    }

    private sealed class DelegateSnapshot(Func<Stream, CancellationToken, ValueTask> write, long? length) : ICheckpointSnapshot
    {
        public long? Length => length;

        public ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(destination);
            return write(destination, cancellationToken);
        }

        public void Dispose()
        {
        }
    }
}
