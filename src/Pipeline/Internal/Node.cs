namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>Writes a captured state; runs later, on the upload thread, and must only use data that no longer changes.</summary>
internal delegate ValueTask StateWrite(StateWriter writer, CancellationToken cancellationToken);

/// <summary>
/// One running operator or source of a pipeline. Single consumer: <see cref="MoveNextAsync"/>, <see cref="Capture"/>
/// and <see cref="RestoreAsync"/> are never called concurrently. After <see cref="MoveNextAsync"/> returns
/// <see langword="false"/>, every further call returns <see langword="false"/> too.
/// </summary>
internal abstract class Node<T> : IAsyncDisposable
{
    public T Current { get; protected set; } = default!;

    public abstract ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken);

    /// <summary>Copies the state (quick, synchronous) and returns how to write it later.</summary>
    public abstract StateWrite Capture();

    /// <summary>Reads the state written by <see cref="Capture"/> into this fresh node (one that has not moved yet).</summary>
    public abstract ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken);

    /// <summary>Releases the node and its inputs (files, background producers).</summary>
    public ValueTask DisposeAsync() => ReleaseAsync();

    protected virtual ValueTask ReleaseAsync() => ValueTask.CompletedTask;
}

/// <summary>What a node needs from where it runs: a salt that differs per epoch of an enclosing repeat and per interleaved element.</summary>
/// <param name="Salt">Mixed into the seeds of shuffles, so every epoch has its own (still deterministic) order.</param>
internal readonly record struct IterationContext(ulong Salt)
{
    public static IterationContext Root => new(0);

    public IterationContext Derive(ulong tag, long index) =>
        new(SplitMix64.Mix(Salt ^ SplitMix64.Mix(tag ^ SplitMix64.Mix(unchecked((ulong)index)))));
}

/// <summary>Tags that keep the salts of different derivations apart.</summary>
internal static class SaltTags
{
    public const ulong RepeatEpoch = 0x5245_5045_4154_0001;
    public const ulong InterleaveElement = 0x494E_5445_524C_0002;
    public const ulong IndexedEpoch = 0x494E_4445_5845_0003;
}
