using System.Diagnostics.Metrics;
using System.Globalization;
using InputPipeline.Checkpointing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing;

/// <summary>
/// Checkpoints the input pipeline every N steps or seconds, the .NET counterpart of TensorFlow's
/// <c>tf.contrib.data.CheckpointInputPipelineHook</c>: a restarted job continues its data stream where it left off.
/// </summary>
/// <remarks>
/// <para>
/// It saves only the iterators registered with the training session (<see cref="ITrainingSession.Iterators"/>), never
/// the model, into the chain <c>input</c> (base name <c>input.ckpt</c>, state file <c>checkpoint_input</c>), or
/// <c>input_&lt;task_type&gt;_&lt;task_id&gt;</c> with more than one worker replica, so it never collides with the model's
/// <c>model.ckpt</c> and <c>checkpoint</c> in the same store.
/// </para>
/// <para>
/// On the first <see cref="BeforeRunAsync"/> (after every hook's <c>AfterCreateSessionAsync</c>, so the iterators exist)
/// it restores the latest input checkpoint if there is one, else saves an initial checkpoint at the current global
/// step. <see cref="AfterRunAsync"/> saves when the step-or-seconds timer triggers; <see cref="EndAsync"/> saves a final
/// checkpoint. Pass the hook to training only, never to evaluation: an evaluation pipeline must not be restored from
/// the training pipeline's checkpoint.
/// </para>
/// <para>
/// Which checkpoint the first step restores is <see cref="CheckpointInputPipelineHookOptions.RestoreMode"/>: the latest
/// (the reference's behaviour), the one at the session's global step (<see cref="InputRestoreMode.AtGlobalStep"/>, the
/// step the model was restored at), or one at a step the caller gives (<see cref="InputRestoreMode.AtStep"/> with
/// <see cref="CheckpointInputPipelineHookOptions.RestoreStep"/> or <see cref="RestoreAtStep"/>, for example a
/// consistent cut of several workers from <see cref="CheckpointCuts"/>); the last two never fall back to another step.
/// </para>
/// <para>
/// Telemetry: per checkpoint, the time the training loop is blocked in the hook is recorded as
/// <see cref="CheckpointingInstrumentNames.StallDuration"/>; saves and restores are measured and traced by the
/// <see cref="CheckpointManager"/> (see <see cref="CheckpointingTelemetry"/>). A step that does not save measures nothing.
/// </para>
/// </remarks>
public sealed partial class CheckpointInputPipelineHook : SessionRunHook, IAsyncDisposable, IDisposable
{
    private readonly CheckpointInputPipelineHookOptions _options;
    private readonly ILogger _logger;
    private readonly PeriodicSaver _saver;
    private readonly bool _ownsManager;
    private ITrainingSession? _session;
    private bool _firstRun = true;
    private InputRestoreMode _restoreMode;
    private long? _restoreStep;
    private int _disposed;

    /// <summary>Creates a hook that saves to <paramref name="store"/>.</summary>
    /// <param name="store">The store the input checkpoints go to.</param>
    /// <param name="options">The cadence and retention; copied, so later changes have no effect.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">The clock for the seconds cadence and the durations measured; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <param name="meterFactory">
    /// Creates the <see cref="CheckpointingTelemetry.MeterName"/> meter; <see langword="null"/> (the default) uses a
    /// process-wide meter of that name.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">Neither or both of SaveSteps and SaveSecs are set, or another option is out of range.</exception>
    public CheckpointInputPipelineHook(IInputStateStore store, CheckpointInputPipelineHookOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
        : this(options, store ?? throw new ArgumentNullException(nameof(store)), manager: null, loggerFactory, timeProvider, meterFactory)
    {
    }

    /// <summary>
    /// Creates a hook from options and either a store or a ready <see cref="CheckpointManager"/> (the counterpart of the
    /// reference's custom saver); giving both is an error, as the reference's "at most one of saver or scaffold".
    /// </summary>
    /// <param name="options">The cadence and retention; copied. With a manager, the manager's chain and retention apply.</param>
    /// <param name="store">The store, or <see langword="null"/> when <paramref name="manager"/> is given.</param>
    /// <param name="manager">A manager to save through, or <see langword="null"/> when <paramref name="store"/> is given. The hook does not dispose it.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> logs nothing.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> is <see cref="TimeProvider.System"/>.</param>
    /// <param name="meterFactory">
    /// Creates the meter of the manager the hook creates; <see langword="null"/> (the default) uses a process-wide
    /// meter. With <paramref name="manager"/>, the manager's meter is used and this is ignored.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">
    /// Both or neither of <paramref name="store"/> and <paramref name="manager"/> are given, neither or both of SaveSteps
    /// and SaveSecs are set, or another option is out of range.
    /// </exception>
    public CheckpointInputPipelineHook(CheckpointInputPipelineHookOptions options, IInputStateStore? store, CheckpointManager? manager, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        if ((store is null) == (manager is null))
        {
            throw new CheckpointOptionsException(
                "store/manager",
                store is null
                    ? "a store or a checkpoint manager must be given."
                    : "at most one of a store or a checkpoint manager may be given (the manager already has its store).");
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger<CheckpointInputPipelineHook>();
        TimeProvider = timeProvider ?? TimeProvider.System;
        _ownsManager = manager is null;
        Manager = manager ?? new CheckpointManager(store!, _options.ToManagerOptions(), loggerFactory.CreateLogger<CheckpointManager>(), TimeProvider, meterFactory);
        _restoreMode = _options.RestoreMode;
        _restoreStep = _options.RestoreStep;
        var timer = new StepOrSecondsTimer(_options.SaveSteps, _options.SaveSecs is { } secs ? TimeSpan.FromSeconds(secs) : null);
        _saver = new PeriodicSaver(
            Manager,
            timer,
            _options.SaveInBackground,
            _options.OnSaveFailure,
            (step, failures, ex) => Log.SaveFailed(_logger, Manager.Chain, step, failures, ex),
            TimeProvider,
            _logger);
    }

    /// <summary>
    /// Creates a hook for training with <paramref name="estimator"/>: the store is the estimator's model directory, and
    /// the cadence, retention, worker identity, restore mode and ownership come from its <see cref="Hosting.RunConfig"/>.
    /// The hook saves through the estimator's <see cref="Hosting.IEstimator.InputCheckpoints"/> when it has one (the
    /// chain the estimator claimed), and does not dispose it.
    /// </summary>
    /// <param name="estimator">The estimator.</param>
    /// <exception cref="ArgumentNullException"><paramref name="estimator"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">The run configuration sets neither or both of SaveCheckpointsSteps and SaveCheckpointsSecs.</exception>
    public CheckpointInputPipelineHook(Hosting.IEstimator estimator)
        : this(
            (estimator ?? throw new ArgumentNullException(nameof(estimator))).Config.ToInputHookOptions(),
            estimator.InputCheckpoints is null ? estimator.Store : null,
            estimator.InputCheckpoints,
            estimator.LoggerFactory,
            estimator.TimeProvider,
            estimator.MeterFactory)
    {
    }

    /// <summary>Gets the manager the hook saves through.</summary>
    public CheckpointManager Manager { get; }

    /// <summary>Gets the clock the seconds cadence uses.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Gets the chain the hook writes (<c>input</c> or <c>input_&lt;task_type&gt;_&lt;task_id&gt;</c>).</summary>
    public string Chain => Manager.Chain;

    /// <summary>Gets the checkpoint restored on the first step, or <see langword="null"/> if none was (fresh start).</summary>
    public CheckpointReference? RestoredCheckpoint { get; private set; }

    /// <summary>Gets the step of the last save the hook captured, or <see langword="null"/> before the first.</summary>
    public long? LastSavedStep => _saver.LastCapturedStep;

    /// <summary>Gets the step of the last save known to be committed, or <see langword="null"/>.</summary>
    public long? LastCommittedStep => _saver.LastCommittedStep;

    /// <summary>Gets the number of saves that failed.</summary>
    public long FailedSaveCount => _saver.FailedSaveCount;

    /// <summary>Gets the last save failure, or <see langword="null"/>.</summary>
    public Exception? LastSaveFailure => _saver.LastFailure;

    /// <summary>Gets which checkpoint the next first step restores (the options' mode, or <see cref="InputRestoreMode.AtStep"/> after <see cref="RestoreAtStep"/>).</summary>
    public InputRestoreMode RestoreMode => _restoreMode;

    /// <summary>Gets the step an <see cref="InputRestoreMode.AtStep"/> restore restores, or <see langword="null"/> when none is set.</summary>
    public long? RestoreStep => _restoreStep;

    /// <summary>
    /// Makes the next first step restore the input checkpoint taken at exactly <paramref name="step"/>
    /// (<see cref="InputRestoreMode.AtStep"/>), for example the step the model was restored at, or the step
    /// a <see cref="CheckpointCuts"/> search found for every worker. The session must start at that global step; there is no fallback to another step.
    /// Useful when the hook comes from dependency injection, before the step is known.
    /// </summary>
    /// <param name="step">The step; zero or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The current session has already run its first step (call it before the first step, or after <see cref="BeginAsync"/> of a new session).</exception>
    public void RestoreAtStep(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (!_firstRun)
        {
            throw new InvalidOperationException("The input pipeline has already been restored in this session; call RestoreAtStep before its first step.");
        }

        _restoreMode = InputRestoreMode.AtStep;
        _restoreStep = step;
    }

    /// <inheritdoc/>
    public override ValueTask BeginAsync(CancellationToken cancellationToken = default)
    {
        _firstRun = true;
        _session = null;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public override ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        _session = session;
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// On the first call: claims the chain (<see cref="CheckpointManager.ClaimAsync"/>, as the options'
    /// <see cref="CheckpointInputPipelineHookOptions.Ownership"/> says), then restores the input checkpoint, or saves an
    /// initial one when the chain is empty.
    /// </summary>
    /// <param name="context">The step's context.</param>
    /// <param name="cancellationToken">Cancels the restore or save.</param>
    /// <returns>A task.</returns>
    /// <exception cref="CheckpointCorruptedException">Every retained checkpoint is damaged (with <see cref="InputRestoreMode.Latest"/>), or the checkpoint at the requested step is.</exception>
    /// <exception cref="CheckpointNotFoundException">
    /// With <see cref="InputRestoreMode.AtGlobalStep"/>: no checkpoint at the global step (in a chain that has checkpoints).
    /// With <see cref="InputRestoreMode.AtStep"/>: no checkpoint at the requested step, even in an empty chain.
    /// </exception>
    /// <exception cref="CheckpointOptionsException">
    /// With <see cref="InputRestoreMode.AtStep"/>: no step was given, or the session's global step is not the requested step.
    /// </exception>
    /// <exception cref="CheckpointMismatchException">The checkpoint holds other iterators than those registered.</exception>
    /// <exception cref="PipelineAlreadyStartedException">An iterator has already yielded elements.</exception>
    /// <exception cref="CheckpointOwnershipLostException">This hook's manager lost the chain earlier.</exception>
    /// <exception cref="CheckpointFormatVersionException">The chain's state file was written by a newer SDK.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable.</exception>
    public override async ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!_firstRun)
        {
            return;
        }

        _session ??= context.Session;
        IReadOnlyList<KeyValuePair<string, ICheckpointable>> iterators = context.Session.Iterators.ToList();
        if (iterators.Count == 0)
        {
            Log.NoIterators(_logger, Chain);
        }

        // Claim first: this job owns the chain from now on, and restores exactly what it claimed.
        await Manager.ClaimAsync(cancellationToken).ConfigureAwait(false);
        CheckpointReference? restored = await RestoreAsync(context.GlobalStep, iterators, cancellationToken).ConfigureAwait(false);
        if (restored is not null)
        {
            RestoredCheckpoint = restored;
            _saver.MarkSaved(context.GlobalStep, context.Timestamp);
            Log.Restored(_logger, Chain, restored.Step, iterators.Count);
        }
        else
        {
            Log.SavingInitial(_logger, Chain, context.GlobalStep);
            await _saver.SaveAsync(context.GlobalStep, context.Timestamp, iterators, wait: true, CheckpointingTagValues.Initial, cancellationToken).ConfigureAwait(false);
        }

        // Only now: a restore that failed (for example, the store was unreachable) is attempted again by the next call.
        _firstRun = false;
    }

    /// <summary>Saves when the step-or-seconds timer triggers; reports a failed background save per the failure policy.</summary>
    /// <param name="context">The step's context.</param>
    /// <param name="cancellationToken">Cancels waiting for a previous save.</param>
    /// <returns>A task.</returns>
    /// <exception cref="CheckpointOwnershipLostException">Another writer took over the chain.</exception>
    /// <exception cref="CheckpointException">A save failed and the policy is <see cref="SaveFailurePolicy.Throw"/>.</exception>
    public override async ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        await _saver.ObserveCompletedAsync().ConfigureAwait(false);
        if (_saver.ShouldTrigger(context.GlobalStep, context.Timestamp))
        {
            await _saver.SaveAsync(context.GlobalStep, context.Timestamp, context.Session.Iterators.ToList(), wait: false, CheckpointingTagValues.Periodic, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Saves a final checkpoint (unless the last save was at this step) and waits for it.</summary>
    /// <param name="session">The session.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    /// <exception cref="CheckpointOwnershipLostException">Another writer took over the chain.</exception>
    /// <exception cref="CheckpointException">A save failed and the policy is <see cref="SaveFailurePolicy.Throw"/>.</exception>
    public override async ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_firstRun)
        {
            // The session ended before its first step: nothing was restored or read, so there is nothing to save.
            return;
        }

        await _saver.FinishAsync(session.GlobalStep, session.Iterators.ToList, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Abandons a save still in flight and releases the manager the hook created. Safe to call more than once.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _saver.DisposeAsync().ConfigureAwait(false);
        if (_ownsManager)
        {
            Manager.Dispose();
        }
    }

    /// <summary>
    /// Abandons a save still in flight (waiting for it to observe the cancellation) and releases the manager the hook
    /// created. Prefer <see cref="DisposeAsync"/>; safe to call more than once.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task<CheckpointReference?> RestoreAsync(long globalStep, IReadOnlyList<KeyValuePair<string, ICheckpointable>> iterators, CancellationToken cancellationToken)
    {
        switch (_restoreMode)
        {
            case InputRestoreMode.Latest:
                return await Manager.RestoreLatestAsync(iterators, cancellationToken).ConfigureAwait(false);

            case InputRestoreMode.AtStep:
                long step = _restoreStep ?? throw new CheckpointOptionsException(
                    nameof(CheckpointInputPipelineHookOptions.RestoreStep),
                    "RestoreMode is AtStep but no step was given: set RestoreStep, or call RestoreAtStep(step) before the first step.");
                if (step != globalStep)
                {
                    throw new CheckpointOptionsException(
                        nameof(CheckpointInputPipelineHookOptions.RestoreStep),
                        string.Create(CultureInfo.InvariantCulture, $"the input checkpoint is to be restored at step {step}, but the session starts at global step {globalStep}; start the session at the step the model was restored at, so weights and data agree."));
                }

                Log.RestoringAtStep(_logger, Chain, step);
                CheckpointReference restored = await Manager.RestoreAsync(step, iterators, cancellationToken).ConfigureAwait(false);

                // Later sessions of this hook continue from where this one ends, like AtGlobalStep.
                _restoreMode = InputRestoreMode.AtGlobalStep;
                _restoreStep = null;
                return restored;

            default:
                IReadOnlyList<CheckpointReference> retained = await Manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
                return retained.Count == 0
                    ? null
                    : await Manager.RestoreAsync(globalStep, iterators, cancellationToken).ConfigureAwait(false);
        }
    }
}
