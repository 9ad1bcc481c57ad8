using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Saves a set of checkpointables through a <see cref="CheckpointManager"/> on a step-or-seconds cadence: captures
/// synchronously, uploads in the background with at most one save in flight, and applies the failure policy.
/// </summary>
internal sealed partial class PeriodicSaver : IAsyncDisposable
{
    private readonly CheckpointManager _manager;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly StepOrSecondsTimer _timer;
    private readonly bool _background;
    private readonly SaveFailurePolicy _policy;
    private readonly Action<long, long, Exception> _onFailure;
    private readonly CancellationTokenSource _lifetime = new();
    private (Task Save, long Step)? _inFlight;
    private long _failedSaves;
    private int _disposed;

    public PeriodicSaver(CheckpointManager manager, StepOrSecondsTimer timer, bool background, SaveFailurePolicy policy, Action<long, long, Exception> onFailure, TimeProvider time, ILogger logger)
    {
        _manager = manager;
        _time = time;
        _logger = logger;
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

    /// <summary>
    /// Captures now and saves: in the background unless <paramref name="wait"/> or background saving is off. The time
    /// the caller is blocked is recorded as the checkpoint's stall.
    /// </summary>
    public async ValueTask SaveAsync(long step, DateTimeOffset now, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, bool wait, string trigger, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        try
        {
            await SaveCoreAsync(step, now, targets, wait, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            RecordStall(step, trigger, started);
        }
    }

    /// <summary>
    /// Ends a session: waits for the save in flight and saves a final checkpoint unless the last committed one is at
    /// <paramref name="step"/>; the whole wait is the final checkpoint's stall.
    /// </summary>
    public async ValueTask FinishAsync(long step, Func<IReadOnlyList<KeyValuePair<string, ICheckpointable>>> targets, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        try
        {
            // A save that failed at this very step (under LogAndContinue) is retried: only a committed save counts.
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            if (LastCommittedStep != step)
            {
                await SaveCoreAsync(step, _time.GetUtcNow(), targets(), wait: true, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            RecordStall(step, CheckpointingTagValues.Final, started);
        }
    }

    private async ValueTask SaveCoreAsync(long step, DateTimeOffset now, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, bool wait, CancellationToken cancellationToken)
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

    private void RecordStall(long step, string trigger, long started)
    {
        TimeSpan stalled = _time.GetElapsedTime(started);
        _manager.Metrics.RecordStall(stalled, _manager.Chain, _manager.Store.ProviderName, trigger);
        Log.Stalled(_logger, trigger, _manager.Chain, step, stalled.TotalSeconds);
    }

    private Task<CheckpointReference> RunSaveAsync(long step, List<KeyValuePair<string, ICheckpointSnapshot>> snapshots)
    {
        CancellationToken token = _lifetime.Token;
        return _background
            ? Task.Run(() => _manager.SaveAsync(step, snapshots, token), CancellationToken.None)
            : _manager.SaveAsync(step, snapshots, token);
    }
}

internal sealed partial class PeriodicSaver
{
    private static partial class Log
    {
        [LoggerMessage(1104, LogLevel.Debug, "The {Trigger} checkpoint of chain {Chain} at step {Step} held the training loop for {StallSeconds} s.")]
        public static partial void Stalled(ILogger logger, string trigger, string chain, long step, double stallSeconds);
    }
}
