namespace InputPipeline.Checkpointing;

/// <summary>
/// Something whose state can be checkpointed: a pipeline iterator, a shuffle buffer, a model.
/// </summary>
/// <remarks>
/// <para>
/// Saving is split in two so that the training thread is blocked as little as possible:
/// <see cref="CaptureState"/> runs synchronously at a step boundary and returns an immutable
/// <see cref="ICheckpointSnapshot"/>; the snapshot is then serialised and uploaded in the background while the
/// iterator goes on. A snapshot streams its bytes straight into the store's upload, so a large state (a shuffle
/// buffer of hundreds of MiB) is never held twice in serialised form.
/// </para>
/// <para>
/// <see cref="RestoreStateAsync"/> replaces the whole state. The checkpoint manager may call it more than once
/// (when a checkpoint proves damaged while it is read, it falls back to an older one), so an implementation
/// must not depend on earlier restores and must leave itself restorable after a failed one.
/// </para>
/// </remarks>
public interface ICheckpointable
{
    /// <summary>
    /// Captures the current state. Called on the training thread at a step boundary; keep it quick (copy
    /// references or buffers, do not serialise or do I/O). The snapshot must not change when the object advances.
    /// </summary>
    /// <returns>An immutable snapshot of the state; the caller disposes it once written.</returns>
    ICheckpointSnapshot CaptureState();

    /// <summary>Replaces the state with the one read from <paramref name="state"/>, which holds what a snapshot wrote.</summary>
    /// <param name="state">The saved bytes. Implementations read it to its end.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>A task that completes when the state is restored.</returns>
    /// <exception cref="CheckpointCorruptedException">The bytes are not a state this object can restore (damaged, or saved by a different structure).</exception>
    /// <exception cref="PipelineAlreadyStartedException">The object has already produced output and cannot be restored any more.</exception>
    ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default);
}

/// <summary>An immutable snapshot of a <see cref="ICheckpointable"/>'s state, written in the background.</summary>
public interface ICheckpointSnapshot : IDisposable
{
    /// <summary>Gets the number of bytes <see cref="WriteToAsync"/> will write, when known in advance; otherwise <see langword="null"/>.</summary>
    long? Length { get; }

    /// <summary>Writes the snapshot's bytes to <paramref name="destination"/>. May be called from any thread, at most once.</summary>
    /// <param name="destination">The stream to write to; the snapshot neither flushes nor disposes it.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when every byte is written.</returns>
    ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default);
}

/// <summary>
/// A snapshot whose bytes are already in memory, in their final form. A checkpoint manager uploads such a snapshot
/// straight from <see cref="Buffer"/> as a seekable stream of known length, hashing it on another thread at the same
/// time, instead of copying it through <see cref="ICheckpointSnapshot.WriteToAsync"/>; stores can then send it in one
/// request and retry it. <see cref="CheckpointSnapshots.FromBytes"/> and <see cref="CheckpointSnapshots.CopyOf"/>
/// return such snapshots.
/// </summary>
public interface IBufferedCheckpointSnapshot : ICheckpointSnapshot
{
    /// <summary>Gets the snapshot's bytes. They must not change until the snapshot is disposed.</summary>
    ReadOnlyMemory<byte> Buffer { get; }
}

/// <summary>An iterator over a checkpointable input pipeline: it yields elements and can save and restore its position.</summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ICheckpointableIterator<out T> : ICheckpointable, IAsyncDisposable
{
    /// <summary>Gets the current element, valid after <see cref="MoveNextAsync"/> returned <see langword="true"/>.</summary>
    T Current { get; }

    /// <summary>Advances to the next element.</summary>
    /// <param name="cancellationToken">Cancels the wait for the next element.</param>
    /// <returns><see langword="true"/> if an element is available in <see cref="Current"/>; <see langword="false"/> at the end.</returns>
    ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default);
}
