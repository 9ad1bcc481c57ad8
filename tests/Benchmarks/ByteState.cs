namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>How a <see cref="ByteState"/> captures itself.</summary>
public enum CaptureMode
{
    /// <summary>The snapshot references the live bytes: valid only when the save completes before the state changes (synchronous saving).</summary>
    Reference,

    /// <summary>The snapshot copies the bytes (<see cref="CheckpointSnapshots.CopyOf"/>), as a state that keeps changing during a background save must.</summary>
    Copy,
}

/// <summary>
/// A checkpointable state of a fixed number of bytes, like a model-side buffer or a large shuffle buffer. Restores read
/// into the same preallocated array, so a restore measures the store and the protocol, not allocation.
/// </summary>
public sealed class ByteState : ICheckpointable
{
    private readonly CaptureMode _mode;

    /// <summary>Creates a state of <paramref name="length"/> pseudo-random (incompressible) bytes.</summary>
    /// <param name="length">The state's size.</param>
    /// <param name="mode">How it captures itself.</param>
    /// <param name="seed">The seed of its bytes.</param>
    public ByteState(int length, CaptureMode mode, int seed = 1)
    {
        _mode = mode;
        Bytes = GC.AllocateUninitializedArray<byte>(length);
        new Random(seed).NextBytes(Bytes);
    }

    /// <summary>Gets the live bytes.</summary>
    public byte[] Bytes { get; }

    /// <summary>Gets the number of bytes the last restore read.</summary>
    public int LastRestoredLength { get; private set; }

    /// <summary>Changes the state a little, as a step would.</summary>
    /// <param name="step">The step number, written into the first bytes.</param>
    public void Advance(long step) => BitConverter.TryWriteBytes(Bytes, step);

    /// <summary>Gets how long each capture took.</summary>
    public List<TimeSpan> CaptureTimes { get; } = [];

    /// <inheritdoc />
    public ICheckpointSnapshot CaptureState()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        ICheckpointSnapshot snapshot = _mode == CaptureMode.Reference
            ? CheckpointSnapshots.FromBytes(Bytes)
            : CheckpointSnapshots.CopyOf(Bytes);
        CaptureTimes.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start));
        return snapshot;
    }

    /// <inheritdoc />
    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        int read = await StoreTarget.ReadAllAsync(state, Bytes, cancellationToken);
        if (read != Bytes.Length)
        {
            throw new InvalidDataException($"The saved state holds {read} bytes; {Bytes.Length} were expected.");
        }

        LastRestoredLength = read;
    }
}
