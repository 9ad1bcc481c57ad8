using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Preemption;

namespace InputPipeline.Checkpointing.Samples;

/// <summary>
/// Follows a training run for its status line and its exit code: a session hook that sees every step, subscribed to
/// the commits and failed saves of the checkpoint managers it watches (<see cref="CheckpointManager.Committed"/>,
/// <see cref="CheckpointManager.SaveFailed"/>) and to a <see cref="PreemptionMonitor"/>. <see cref="FinishAsync"/>
/// then decides whether the run's work is safe.
/// </summary>
/// <remarks>
/// Put it after the checkpointing hooks and before the <see cref="PreemptionHook"/>, so that its first step sees what
/// they restored and it sees a stop request in the same step the preemption hook acts on it. Thread-safe: the
/// managers report from their save threads, a display reads <see cref="GetSnapshot"/> from its own.
/// </remarks>
public sealed partial class JobProgress : SessionRunHook
{
    /// <summary>The window over which <see cref="JobProgressSnapshot.StepsPerSecond"/> is measured: 10 seconds.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan SampleSpacing = TimeSpan.FromMilliseconds(100);
    // Listing the chains and reading the candidate checkpoints back, when the final one did not commit: past it, the
    // verdict says what this process saw committed.
    private static readonly TimeSpan FindResumeTimeout = TimeSpan.FromMinutes(2);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly List<CheckpointManager> _managers = [];
    private readonly Dictionary<string, ChainState> _chains = new(StringComparer.Ordinal);
    private readonly Queue<(long Timestamp, long Step)> _samples = new();
    private PreemptionMonitor? _monitor;
    private JobPhase _phase = JobPhase.Starting;
    private long? _step;
    private long? _stopStep;
    private long _failedSaves;
    private bool _sessionStarted;

    /// <summary>Creates the tracker of a run to <paramref name="targetStep"/>.</summary>
    /// <param name="targetStep">The global step the run goes to; zero or more.</param>
    /// <param name="timeProvider">The clock for speed and ages; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetStep"/> is negative.</exception>
    public JobProgress(long targetStep, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(targetStep);
        TargetStep = targetStep;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the global step the run goes to.</summary>
    public long TargetStep { get; }

    /// <summary>
    /// Follows the commits and failed saves of <paramref name="manager"/>'s chain, for example a
    /// <see cref="CheckpointInputPipelineHook.Manager"/> and an <see cref="Estimator{TBatch}.ModelCheckpoints"/>. Every
    /// watched chain must have committed the final step for the run to count as done.
    /// </summary>
    /// <param name="manager">The manager.</param>
    /// <exception cref="ArgumentNullException"><paramref name="manager"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The manager's chain is already watched.</exception>
    public void Watch(CheckpointManager manager)
    {
        ArgumentNullException.ThrowIfNull(manager);
        lock (_gate)
        {
            if (_chains.ContainsKey(manager.Chain))
            {
                throw new InvalidOperationException($"The chain \"{manager.Chain}\" is already watched.");
            }

            _chains[manager.Chain] = new ChainState();
            _managers.Add(manager);
        }

        manager.Committed += OnCommitted;
        manager.SaveFailed += OnSaveFailed;
    }

    /// <summary>Follows <paramref name="monitor"/>: a preemption request turns the status to "stop requested".</summary>
    /// <param name="monitor">The monitor the run's <see cref="PreemptionHook"/> watches.</param>
    /// <exception cref="ArgumentNullException"><paramref name="monitor"/> is null.</exception>
    public void Watch(PreemptionMonitor monitor)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        _monitor = monitor;
        monitor.PreemptionRequested += (_, _) =>
        {
            lock (_gate)
            {
                if (_phase is JobPhase.Starting or JobPhase.Training)
                {
                    _phase = JobPhase.Stopping;
                }
            }
        };
    }

    /// <summary>Returns what the status line shows now.</summary>
    /// <returns>The snapshot.</returns>
    public JobProgressSnapshot GetSnapshot()
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            (long Step, DateTimeOffset At)? oldest = null;
            if (_chains.Count > 0 && _chains.Values.All(c => c.Latest is not null))
            {
                oldest = _chains.Values.Select(c => c.Latest!.Value).MinBy(l => l.Step);
            }

            return new JobProgressSnapshot(
                _phase,
                _step,
                TargetStep,
                Rate(),
                oldest?.Step,
                oldest is { } o ? now - o.At : null,
                _failedSaves,
                _monitor?.Notice?.Reason,
                _stopStep);
        }
    }

    /// <inheritdoc/>
    /// <remarks>On the first step: notes the step the session starts at, and each watched chain's latest checkpoint.</remarks>
    public override async ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_sessionStarted)
        {
            return;
        }

        // The checkpointing hooks before this one have restored (or saved an initial checkpoint): their managers know the
        // chains' latest checkpoints without another request to the store.
        foreach (CheckpointManager manager in Managers())
        {
            IReadOnlyList<CheckpointReference> retained;
            try
            {
                retained = await manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (CheckpointException)
            {
                continue; // shown as "no checkpoint yet" until the chain's next commit
            }

            lock (_gate)
            {
                ChainState chain = _chains[manager.Chain];
                foreach (CheckpointReference checkpoint in retained)
                {
                    chain.Committed.Add(checkpoint.Step);
                }

                if (chain.Latest is null && retained.Count > 0)
                {
                    chain.Latest = (retained[0].Step, retained[0].CreatedAt);
                }
            }
        }

        lock (_gate)
        {
            _sessionStarted = true;
            _step = context.GlobalStep;
            if (_phase == JobPhase.Starting)
            {
                _phase = JobPhase.Training;
            }

            AddSample(context.GlobalStep);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Records the step (for the speed), and whether the run now saves before stopping or at its target.</remarks>
    public override ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        lock (_gate)
        {
            _step = context.GlobalStep;
            AddSample(context.GlobalStep);
            if (_monitor?.Notice is not null)
            {
                // The preemption hook after this one stops the session after this step; the checkpointing hooks then save here.
                _phase = JobPhase.Stopping;
                _stopStep ??= context.GlobalStep;
            }
            else if (context.GlobalStep >= TargetStep || context.StopRequested)
            {
                _phase = JobPhase.Finishing;
                _stopStep = context.GlobalStep;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    /// <remarks>The hooks before this one have made their final saves.</remarks>
    public override ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_gate)
        {
            _step = session.GlobalStep;
            _phase = JobPhase.Ended;
        }

        return ValueTask.CompletedTask;
    }

    private CheckpointManager[] Managers()
    {
        lock (_gate)
        {
            return [.. _managers];
        }
    }

    private void OnCommitted(object? sender, CheckpointCommittedEventArgs e)
    {
        lock (_gate)
        {
            ChainState chain = _chains[e.Chain];
            chain.Latest = (e.Checkpoint.Step, e.Checkpoint.CreatedAt);
            chain.Committed.Add(e.Checkpoint.Step);
        }
    }

    private void OnSaveFailed(object? sender, CheckpointSaveFailedEventArgs e)
    {
        lock (_gate)
        {
            _failedSaves++;
            _chains[e.Chain].LastFailure = e.Exception;
        }
    }

    private void AddSample(long step)
    {
        long now = _time.GetTimestamp();
        if (_samples.Count == 0 || _time.GetElapsedTime(_samples.Last().Timestamp, now) >= SampleSpacing)
        {
            _samples.Enqueue((now, step));
        }

        while (_samples.Count > 1 && _time.GetElapsedTime(_samples.Peek().Timestamp, now) > RateWindow)
        {
            _samples.Dequeue();
        }
    }

    /// <summary>Steps per second from the oldest sample in the window to now, so that a stalled run shows its speed falling.</summary>
    private double? Rate()
    {
        if (_samples.Count == 0 || _step is not { } step || _phase != JobPhase.Training)
        {
            return null;
        }

        (long firstAt, long firstStep) = _samples.Peek();
        TimeSpan elapsed = _time.GetElapsedTime(firstAt);
        return elapsed >= SampleSpacing && step > firstStep ? (step - firstStep) / elapsed.TotalSeconds : elapsed >= RateWindow ? 0 : null;
    }

    private sealed class ChainState
    {
        public (long Step, DateTimeOffset At)? Latest { get; set; }

        public HashSet<long> Committed { get; } = [];

        public Exception? LastFailure { get; set; }
    }
}
