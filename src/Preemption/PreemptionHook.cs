using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.Preemption;

/// <summary>
/// A session hook that ends training at the step boundary after a preemption is requested (SIGTERM, host shutdown, or
/// a cloud preemption notice seen by a <see cref="PreemptionMonitor"/>): it asks the session to stop after the current
/// step, so the session calls every hook's <c>EndAsync</c> — <see cref="CheckpointInputPipelineHook"/> then saves and
/// commits a final checkpoint at that very step (and an estimator saves its model there too), and the restart replays
/// zero steps.
/// </summary>
/// <remarks>
/// Put it after the checkpointing hooks (for example <c>hooks: [inputHook, preemptionHook]</c>): its
/// <see cref="EndAsync"/> runs after theirs, once the final checkpoint is committed, and acknowledges the preemption
/// (<see cref="PreemptionMonitor.AcknowledgeAsync(CancellationToken)"/>, which acknowledges an Azure <c>Preempt</c> event).
/// When a final save fails under <see cref="SaveFailurePolicy.Throw"/>, the session does not call <c>EndAsync</c>, so
/// nothing is acknowledged; under <see cref="SaveFailurePolicy.LogAndContinue"/> (the default) the notice is still
/// acknowledged, since nothing more can be saved before the VM goes, and whether the final checkpoint committed is
/// for the job to check (<see cref="CheckpointInputPipelineHook.LastCommittedStep"/>, or
/// <see cref="CheckpointManager.Committed"/>). One hook per training run.
/// </remarks>
public sealed partial class PreemptionHook : SessionRunHook
{
    private readonly PreemptionMonitor _monitor;
    private readonly ILogger _logger;

    /// <summary>Creates the hook.</summary>
    /// <param name="monitor">The monitor whose preemption request stops training.</param>
    /// <param name="logger">The logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="monitor"/> is null.</exception>
    public PreemptionHook(PreemptionMonitor monitor, ILogger<PreemptionHook>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        _monitor = monitor;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Gets the monitor the hook watches.</summary>
    public PreemptionMonitor Monitor => _monitor;

    /// <summary>Gets the global step after which the hook asked the session to stop, or <see langword="null"/> while it has not.</summary>
    public long? StopRequestedAtStep { get; private set; }

    /// <inheritdoc/>
    public override ValueTask BeginAsync(CancellationToken cancellationToken = default)
    {
        StopRequestedAtStep = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>Asks the session to stop after this step when a preemption has been requested.</summary>
    /// <param name="context">The step's context.</param>
    /// <param name="cancellationToken">Not used.</param>
    /// <returns>A completed task.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="context"/> is null.</exception>
    public override ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_monitor.Notice is { } notice)
        {
            context.RequestStop();
            if (StopRequestedAtStep is null)
            {
                StopRequestedAtStep = context.GlobalStep;
                Log.Stopping(_logger, notice.Reason, notice.Detail, context.GlobalStep);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// After a preemption: the hooks before this one have made their final saves, so tells the monitor
    /// (<see cref="PreemptionMonitor.AcknowledgeAsync(CancellationToken)"/>) and waits for the acknowledgements.
    /// </summary>
    /// <param name="session">The session.</param>
    /// <param name="cancellationToken">Cancels the acknowledgements.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="session"/> is null.</exception>
    public override async ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_monitor.Notice is { } notice)
        {
            Log.Saved(_logger, notice.Reason, session.GlobalStep);
            await _monitor.AcknowledgeAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3010, LogLevel.Information, "Preemption requested ({Reason}: {Detail}); stopping training after global step {Step} to save a final checkpoint there.")]
        public static partial void Stopping(ILogger logger, PreemptionReason reason, string detail, long step);

        [LoggerMessage(3011, LogLevel.Information, "Training stopped at global step {Step} for a preemption ({Reason}); the checkpointing hooks have made their final saves.")]
        public static partial void Saved(ILogger logger, PreemptionReason reason, long step);
    }
}
