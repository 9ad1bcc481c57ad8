namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Saves a set of checkpointables through a <see cref="CheckpointManager"/> on a step-or-seconds cadence: captures
/// synchronously, uploads in the background with at most one save in flight, and applies the failure policy.
/// </summary>
internal sealed class PeriodicSaver : IAsyncDisposable
{
    private readonly CheckpointManager _manager;
    private readonly StepOrSecondsTimer _timer;
    private readonly bool _background;
    private readonly SaveFailurePolicy _policy;
    private readonly Action<long, long, Exception> _onFailure;
    private readonly CancellationTokenSource _lifetime = new();
    private (Task Save, long Step)? _inFlight;
    private long _failedSaves;
    private int _disposed;

    public PeriodicSaver(CheckpointManager manager, StepOrSecondsTimer timer, bool background, SaveFailurePolicy policy, Action<long, long, Exception> onFailure)
    {
        _manager = manager;
        _timer = timer;
        _background = background;
        _policy = policy;
        _onFailure = onFailure;
    }

    public long? LastCapturedStep { get; private set; }

    public long? LastCommittedStep { get; private set; }

    public long FailedSaveCount => Interlocked.Read(ref _failedSaves);

    public Exception? LastFailure { get; private set; }

    public void MarkSaved(long step, DateTimeOffset now)
    {
        _timer.Update(step, now);
        LastCapturedStep = step;
        LastCommittedStep = step;
    }

    public bool ShouldTrigger(long step, DateTimeOffset now) => _timer.ShouldTrigger(step, now);

    /// <summary>Captures now and saves: in the background unless <paramref name="wait"/> or background saving is off.</summary>
    public async ValueTask SaveAsync(long step, DateTimeOffset now, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, bool wait, CancellationToken cancellationToken)
    {
        // At most one save in flight: the next one waits for it (and observes its outcome) before capturing.
        await FlushAsync(cancellationToken).ConfigureAwait(false);

        var snapshots = new List<KeyValuePair<string, ICheckpointSnapshot>>(targets.Count);
        try
        {
            foreach (KeyValuePair<string, ICheckpointable> target in targets)
            {
                snapshots.Add(new(target.Key, target.Value.CaptureState()));
            }
        }
        catch
        {
            foreach (KeyValuePair<string, ICheckpointSnapshot> snapshot in snapshots)
            {
                snapshot.Value.Dispose();
            }

            throw;
        }

        _timer.Update(step, now);
        LastCapturedStep = step;
        Task save = RunSaveAsync(step, snapshots);
        _inFlight = (save, step);
        if (wait || !_background)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Observes a background save that has already finished, without waiting for one that has not.</summary>
    public ValueTask ObserveCompletedAsync() =>
        _inFlight is { Save.IsCompleted: true } ? FlushAsync(CancellationToken.None) : ValueTask.CompletedTask;

    /// <summary>Waits for the save in flight, if any, and applies the failure policy to its outcome.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_inFlight is not { } inFlight)
        {
            return;
        }

        try
        {
            await inFlight.Save.WaitAsync(cancellationToken).ConfigureAwait(false);
            LastCommittedStep = inFlight.Step;
            _inFlight = null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller stopped waiting; the save stays in flight.
            throw;
        }
        catch (CheckpointOwnershipLostException)
        {
            _inFlight = null;
            throw;
        }
        catch (Exception ex) when (ex is CheckpointException or OperationCanceledException or IOException)
        {
            _inFlight = null;
            LastFailure = ex;
            long failures = Interlocked.Increment(ref _failedSaves);
            _onFailure(inFlight.Step, failures, ex);
            if (_policy == SaveFailurePolicy.Throw)
            {
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (_inFlight is { } inFlight)
        {
            try
            {
                await inFlight.Save.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is CheckpointException or OperationCanceledException or IOException)
            {
                // Disposal abandons the save; the previous checkpoint stays the latest.
            }
        }

        _lifetime.Dispose();
    }

    private Task<CheckpointReference> RunSaveAsync(long step, List<KeyValuePair<string, ICheckpointSnapshot>> snapshots)
    {
        CancellationToken token = _lifetime.Token;
        return _background
            ? Task.Run(() => _manager.SaveAsync(step, snapshots, token), CancellationToken.None)
            : _manager.SaveAsync(step, snapshots, token);
    }
}
