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

    /// <summary>
    /// The synchronous bulk fast path: moves to at most <c>destination.Length</c> further elements that are available
    /// without waiting, writes them to <paramref name="destination"/> in order and returns how many; <see cref="Current"/>
    /// is then the last of them. Reading <c>n</c> elements this way is the same, state included, as <c>n</c> calls of
    /// <see cref="MoveNextAsync"/> returning <see langword="true"/>. The contract:
    /// <list type="bullet">
    /// <item>A short read (fewer than asked, 0 included) says nothing more than "not now": the input may be waiting (an
    /// async-only node, whose default here returns 0), ended, or a function given to an operator failed. The caller then
    /// calls <see cref="MoveNextAsync"/> for the next element, which waits, reports the end or throws. The end and the
    /// failures are reported by <see cref="MoveNextAsync"/> only.</item>
    /// <item>No read-ahead: a node reads from its input only what it needs for the elements it was asked for, so what
    /// <see cref="Capture"/> records is exactly the state after the last element handed out. (A node that saves what it
    /// reads ahead in its own state, such as the parallel map with its inputs in flight, may read ahead.) A short read may leave a
    /// node part-way into its next element (like a cancelled <see cref="MoveNextAsync"/>); the next call continues it.</item>
    /// <item>It does not throw what a user function throws: that exception is kept and thrown by the next
    /// <see cref="MoveNextAsync"/>, so the elements already written (and counted by the caller) are not lost.</item>
    /// </list>
    /// Slots of <paramref name="destination"/> past the returned count may have been overwritten.
    /// </summary>
    public virtual int ReadAvailable(Span<T> destination) => 0;

    /// <summary>
    /// Copies the state (quick, synchronous) and returns how to write it later. A node whose state needs a section of a
    /// newer format version (see <see cref="PipelineStateFormat"/>) asks for it through <paramref name="context"/>; every
    /// node then writes the layout of <see cref="StateWriter.FormatVersion"/>.
    /// </summary>
    public abstract StateWrite Capture(CaptureContext context);

    /// <summary>Reads the state written by <see cref="Capture"/> into this fresh node (one that has not moved yet).</summary>
    public abstract ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken);

    /// <summary>Releases the node and its inputs (files, background producers).</summary>
    public ValueTask DisposeAsync() => ReleaseAsync();

    protected virtual ValueTask ReleaseAsync() => ValueTask.CompletedTask;

    /// <summary>The fast path of <see cref="MoveNextAsync"/>: whether <see cref="ReadAvailable"/> moved to one more element (then <see cref="Current"/>).</summary>
    protected bool TryMoveNextAvailable()
    {
        T element = default!;
        return ReadAvailable(new Span<T>(ref element)) == 1;
    }
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
