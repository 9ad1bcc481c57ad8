namespace InputPipeline.Checkpointing.TorchSharp.Internal;

/// <summary>
/// Yields <paramref name="convert"/> of each element of an inner iterator, owning (and disposing) each converted
/// element until the next one; saves and restores exactly the inner iterator's state.
/// </summary>
/// <typeparam name="TElement">The inner iterator's element type.</typeparam>
/// <typeparam name="TBatch">The converted type.</typeparam>
internal sealed class TensorBatchIterator<TElement, TBatch>(ICheckpointableIterator<TElement> inner, Func<TElement, TBatch> convert) : ICheckpointableIterator<TBatch>
    where TBatch : IDisposable
{
    private TBatch? _current;
    private bool _hasCurrent;

    public TBatch Current => _hasCurrent ? _current! : throw new InvalidOperationException("There is no current batch: call MoveNextAsync first, and only use Current while it returned true.");

    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        ReleaseCurrent();
        if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        _current = convert(inner.Current);
        _hasCurrent = true;
        return true;
    }

    public ICheckpointSnapshot CaptureState() => inner.CaptureState();

    public ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default) => inner.RestoreStateAsync(state, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        ReleaseCurrent();
        await inner.DisposeAsync().ConfigureAwait(false);
    }

    private void ReleaseCurrent()
    {
        if (_hasCurrent)
        {
            _hasCurrent = false;
            _current!.Dispose();
            _current = default;
        }
    }
}
