namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// An operator with one input: it saves its input's state after its own (none by default), releases its input with
/// itself, and answers <see cref="MoveNextAsync"/> from its fast path (<see cref="Node{T}.ReadAvailable"/>) when that has
/// the element, else from <see cref="MoveNextSlowAsync"/>.
/// </summary>
internal abstract class UnaryNode<TIn, TOut>(Node<TIn> input) : Node<TOut>
{
    protected Node<TIn> Input { get; } = input;

    public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
        TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

    public override StateWrite Capture(CaptureContext context) => Input.Capture(context);

    public override ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken) => Input.RestoreAsync(reader, cancellationToken);

    /// <summary>Moves to the next element when the fast path has none: waits, reports the end, or throws.</summary>
    protected abstract ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken);

    protected override ValueTask ReleaseAsync() => Input.DisposeAsync();

    /// <summary>Writes <paramref name="own"/> (a few fixed fields) before the input's state.</summary>
    protected static StateWrite Then(Action<StateWriter> own, StateWrite inputState) => (writer, cancellationToken) =>
    {
        own(writer);
        return inputState(writer, cancellationToken);
    };
}
