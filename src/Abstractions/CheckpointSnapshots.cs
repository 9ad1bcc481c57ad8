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
    public static ICheckpointSnapshot CopyOf(ReadOnlySpan<byte> bytes) => new BytesSnapshot(bytes.ToArray());

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
