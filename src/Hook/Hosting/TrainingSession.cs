namespace InputPipeline.Checkpointing.Hosting;

/// <summary>A training session's state: the global step and the registered iterators.</summary>
public sealed class TrainingSession : ITrainingSession
{
    /// <summary>Creates a session starting at <paramref name="globalStep"/>.</summary>
    /// <param name="globalStep">The global step to start at, for example the step a model checkpoint was restored at. Zero or more; default 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="globalStep"/> is negative.</exception>
    public TrainingSession(long globalStep = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(globalStep);
        GlobalStep = globalStep;
    }

    /// <inheritdoc/>
    public long GlobalStep { get; private set; }

    /// <inheritdoc/>
    public CheckpointableCollection Iterators { get; } = new();

    internal void IncrementGlobalStep() => GlobalStep++;
}

/// <summary>
/// Runs steps in a <see cref="TrainingSession"/> and calls hooks around them, in the order given, like TensorFlow's
/// <c>MonitoredSession</c>: every hook's <c>BeginAsync</c>, then every <c>AfterCreateSessionAsync</c>; per step every
/// <c>BeforeRunAsync</c>, the step, the global step increment, every <c>AfterRunAsync</c>; and at a normal end (the
/// target step reached, the input exhausted, or a stop requested) every <c>EndAsync</c>. When a step or a hook throws,
/// <c>EndAsync</c> is not called and the exception propagates.
/// </summary>
public sealed class MonitoredTrainingSession
{
    private readonly TrainingSession _session;
    private readonly IReadOnlyList<ISessionRunHook> _hooks;
    private readonly TimeProvider _time;

    /// <summary>Creates a monitored session.</summary>
    /// <param name="session">The session.</param>
    /// <param name="hooks">The hooks, called in this order.</param>
    /// <param name="timeProvider">The clock for step timestamps; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="session"/> or <paramref name="hooks"/> is null, or a hook is null.</exception>
    public MonitoredTrainingSession(TrainingSession session, IEnumerable<ISessionRunHook> hooks, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(hooks);
        _session = session;
        _hooks = [.. hooks];
        if (_hooks.Any(h => h is null))
        {
            throw new ArgumentNullException(nameof(hooks), "A hook is null.");
        }

        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the session.</summary>
    public TrainingSession Session => _session;

    /// <summary>Runs steps until the global step reaches <paramref name="lastStep"/>, the step function reports the end of its input, or a hook requests a stop.</summary>
    /// <param name="step">Runs one step; returns <see langword="false"/> when its input is exhausted (the step did not happen).</param>
    /// <param name="lastStep">The global step to stop at, or <see langword="null"/> to run until the input ends or a stop is requested.</param>
    /// <param name="cancellationToken">Cancels the run; <c>EndAsync</c> is then not called.</param>
    /// <returns>The global step reached.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="step"/> is null.</exception>
    public async Task<long> RunAsync(Func<SessionRunContext, CancellationToken, ValueTask<bool>> step, long? lastStep = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(step);
        foreach (ISessionRunHook hook in _hooks)
        {
            await hook.BeginAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (ISessionRunHook hook in _hooks)
        {
            await hook.AfterCreateSessionAsync(_session, cancellationToken).ConfigureAwait(false);
        }

        bool stop = false;
        while (!stop && (lastStep is null || _session.GlobalStep < lastStep))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var before = new SessionRunContext(_session, _time.GetUtcNow());
            foreach (ISessionRunHook hook in _hooks)
            {
                await hook.BeforeRunAsync(before, cancellationToken).ConfigureAwait(false);
            }

            if (!await step(before, cancellationToken).ConfigureAwait(false))
            {
                break;
            }

            _session.IncrementGlobalStep();
            var after = new SessionRunContext(_session, _time.GetUtcNow());
            if (before.StopRequested)
            {
                after.RequestStop();
            }

            foreach (ISessionRunHook hook in _hooks)
            {
                await hook.AfterRunAsync(after, cancellationToken).ConfigureAwait(false);
            }

            stop = after.StopRequested;
        }

        foreach (ISessionRunHook hook in _hooks)
        {
            await hook.EndAsync(_session, cancellationToken).ConfigureAwait(false);
        }

        return _session.GlobalStep;
    }
}
