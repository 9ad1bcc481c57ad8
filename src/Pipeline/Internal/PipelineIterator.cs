namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// The public face of a running pipeline: yields the root node's elements, and saves and restores the whole node tree in
/// the versioned state format (see <see cref="PipelineStateFormat"/>).
/// </summary>
internal sealed class PipelineIterator<T> : ICheckpointableIterator<T>
{
    private readonly Dataset<T> _dataset;
    private readonly string _name;
    private readonly StructureNode _structure;
    private readonly byte[][] _prefixes = new byte[PipelineStateFormat.FormatVersion + 1][];
    private Node<T> _root;
    private bool _started;
    private bool _disposed;

    public PipelineIterator(Dataset<T> dataset, string name)
    {
        _dataset = dataset;
        _name = name;
        _structure = dataset.Describe();
        _root = dataset.CreateNode(IterationContext.Root);
    }

    public T Current => _root.Current;

    // Not async: the root's MoveNextAsync completes synchronously when its fast path has the element, and is returned as it is.
    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            return ValueTask.FromException<bool>(new ObjectDisposedException(GetType().FullName));
        }

        _started = true;
        try
        {
            return _root.MoveNextAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            // Failures surface through the returned task, as they did when this method was async.
            return ValueTask.FromException<bool>(ex);
        }
    }

    public ICheckpointSnapshot CaptureState()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var context = new CaptureContext();
        StateWrite body = _root.Capture(context);
        int version = context.FormatVersion;
        byte[] prefix = _prefixes[version] ??= PipelineStateFormat.BuildPrefix(_structure, version);
        return CheckpointSnapshots.FromWriter(async (destination, cancellationToken) =>
        {
            using var writer = new StateWriter(destination) { FormatVersion = version };
            writer.WriteRaw(prefix);
            await body(writer, cancellationToken).ConfigureAwait(false);
            await writer.FinishAsync(cancellationToken).ConfigureAwait(false);
        });
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
        {
            throw new PipelineAlreadyStartedException(_name);
        }

        using var reader = new StateReader(state);
        StructureNode saved;
        try
        {
            (saved, reader.FormatVersion) = await PipelineStateFormat.ReadPrefixAsync(reader, _name, cancellationToken).ConfigureAwait(false);
        }
        catch (StateCorruptException ex)
        {
            throw new CheckpointCorruptedException(_name, ex.Message, ex);
        }

        string? difference = StructureNode.FindDifference(saved, _structure);
        if (difference is not null)
        {
            throw new CheckpointMismatchException(_name, difference + $" The state was saved by \"{saved}\"; this pipeline is \"{_structure}\".");
        }

        Node<T> fresh = _dataset.CreateNode(IterationContext.Root);
        try
        {
            await fresh.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
            await reader.VerifyTrailerAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.AtEndAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new StateCorruptException("there are bytes after the end of the state.");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not CheckpointException)
        {
            await fresh.DisposeAsync().ConfigureAwait(false);
            bool intact;
            try
            {
                intact = ex is not StateCorruptException && await reader.RestIsIntactAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                intact = false;
            }

            if (!intact)
            {
                string reason = ex is StateCorruptException ? ex.Message : $"the state could not be read ({ex.Message}) and its checksum does not match.";
                throw new CheckpointCorruptedException(_name, reason, ex);
            }

            if (ex is StructureMismatchException)
            {
                throw new CheckpointMismatchException(_name, ex.Message);
            }

            throw;
        }
        catch
        {
            await fresh.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Node<T> old = _root;
        _root = fresh;
        await old.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _root.DisposeAsync().ConfigureAwait(false);
    }
}
