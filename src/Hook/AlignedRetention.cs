namespace InputPipeline.Checkpointing;

/// <summary>
/// Keeps, in every chain of a job that saves several chains at the same steps (a model chain and an input chain), the
/// newest step all of them committed, even when it falls out of a chain's <see cref="CheckpointManagerOptions.KeepMax"/>
/// newest. Without it, a run of failed saves on one chain (a full disk, a store refusing writes) lets the other chain's
/// retention drop every step the two share, and a restart finds no step where weights and data agree.
/// </summary>
/// <remarks>
/// <para>
/// It follows each manager's <see cref="CheckpointManager.Committed"/> event: once every chain has committed a step newer
/// than the current common one, that step becomes the <see cref="CheckpointManager.ProtectedStep"/> of every manager, and
/// the step it replaces is dropped by the chains' next retention. Each chain so retains at most one checkpoint more than
/// its <c>KeepMax</c>. A resume point found by listing the chains (the step a job restored) is given with
/// <see cref="MarkCommon"/>.
/// </para>
/// <para>
/// The estimator (<see cref="Hosting.Estimator{TBatch}"/>) links its model and input chains this way. Safe for use from
/// the threads background saves run on. Disposing it stops following the managers and clears their protected steps.
/// </para>
/// </remarks>
public sealed class AlignedRetention : IDisposable
{
    private readonly CheckpointManager[] _managers;
    private readonly HashSet<long>[] _committed;
    private readonly Lock _lock = new();
    private long _commonStep = -1;
    private bool _disposed;

    /// <summary>Links the retention of <paramref name="managers"/>.</summary>
    /// <param name="managers">The managers of the chains saved at the same steps; at least two, of different chains.</param>
    /// <exception cref="ArgumentNullException"><paramref name="managers"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">Fewer than two managers, or two of the same chain and store key.</exception>
    public AlignedRetention(params IReadOnlyList<CheckpointManager> managers)
    {
        ArgumentNullException.ThrowIfNull(managers);
        if (managers.Any(m => m is null))
        {
            throw new ArgumentNullException(nameof(managers), "A manager is null.");
        }

        if (managers.Count < 2)
        {
            throw new ArgumentException($"Aligned retention links two chains or more; {managers.Count} given.", nameof(managers));
        }

        if (managers.Select(m => m.StateFileKey).Distinct(StringComparer.Ordinal).Count() != managers.Count)
        {
            throw new ArgumentException($"Aligned retention links different chains; the state files {string.Join(", ", managers.Select(m => m.StateFileKey))} repeat one.", nameof(managers));
        }

        _managers = [.. managers];
        _committed = [.. _managers.Select(_ => new HashSet<long>())];
        foreach (CheckpointManager manager in _managers)
        {
            manager.Committed += OnCommitted;
        }
    }

    /// <summary>Gets the newest step every chain has committed since this link was made (or marked with <see cref="MarkCommon"/>), or <see langword="null"/>.</summary>
    public long? CommonStep
    {
        get
        {
            lock (_lock)
            {
                return _commonStep >= 0 ? _commonStep : null;
            }
        }
    }

    /// <summary>
    /// Records that every chain has a sound checkpoint at <paramref name="step"/>, for example the step a job resumed
    /// from, and protects it in every chain unless a newer common step is already known.
    /// </summary>
    /// <param name="step">The step; zero or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The link was disposed.</exception>
    public void MarkCommon(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Advance(step);
        }
    }

    /// <summary>Stops following the managers and clears their protected steps. Safe to call more than once.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (CheckpointManager manager in _managers)
            {
                manager.Committed -= OnCommitted;
                manager.ProtectedStep = null;
            }
        }
    }

    private void OnCommitted(object? sender, CheckpointCommittedEventArgs e)
    {
        lock (_lock)
        {
            int index = Array.IndexOf(_managers, sender);
            if (_disposed || index < 0 || e.Checkpoint.Step <= _commonStep)
            {
                return;
            }

            _committed[index].Add(e.Checkpoint.Step);
            if (_committed.All(steps => steps.Contains(e.Checkpoint.Step)))
            {
                Advance(e.Checkpoint.Step);
            }
        }
    }

    private void Advance(long step)
    {
        if (step <= _commonStep)
        {
            return;
        }

        _commonStep = step;
        foreach (HashSet<long> steps in _committed)
        {
            steps.RemoveWhere(s => s <= step);
        }

        foreach (CheckpointManager manager in _managers)
        {
            manager.ProtectedStep = step;
        }
    }
}
