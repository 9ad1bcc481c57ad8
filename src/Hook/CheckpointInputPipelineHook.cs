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
/// </remarks>
public sealed partial class CheckpointInputPipelineHook : SessionRunHook, IAsyncDisposable, IDisposable
{
    private readonly CheckpointInputPipelineHookOptions _options;
    private readonly ILogger _logger;
    private readonly PeriodicSaver _saver;
    private readonly bool _ownsManager;
    private ITrainingSession? _session;
    private bool _firstRun = true;
    private int _disposed;

    /// <summary>Creates a hook that saves to <paramref name="store"/>.</summary>
    /// <param name="store">The store the input checkpoints go to.</param>
    /// <param name="options">The cadence and retention; copied, so later changes have no effect.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">The clock for the seconds cadence; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">Neither or both of SaveSteps and SaveSecs are set, or another option is out of range.</exception>
    public CheckpointInputPipelineHook(IInputStateStore store, CheckpointInputPipelineHookOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(options, store ?? throw new ArgumentNullException(nameof(store)), manager: null, loggerFactory, timeProvider)
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
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">
    /// Both or neither of <paramref name="store"/> and <paramref name="manager"/> are given, neither or both of SaveSteps
    /// and SaveSecs are set, or another option is out of range.
    /// </exception>
    public CheckpointInputPipelineHook(CheckpointInputPipelineHookOptions options, IInputStateStore? store, CheckpointManager? manager, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
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
        Manager = manager ?? new CheckpointManager(store!, _options.ToManagerOptions(), loggerFactory.CreateLogger<CheckpointManager>(), TimeProvider);
        var timer = new StepOrSecondsTimer(_options.SaveSteps, _options.SaveSecs is { } secs ? TimeSpan.FromSeconds(secs) : null);
        _saver = new PeriodicSaver(
            Manager,
            timer,
            _options.SaveInBackground,
            _options.OnSaveFailure,
            (step, failures, ex) => Log.SaveFailed(_logger, Manager.Chain, step, failures, ex));
    }

    /// <summary>
    /// Creates a hook for training with <paramref name="estimator"/>: the store is the estimator's model directory, and
    /// the cadence, retention, worker identity and restore mode come from its <see cref="Hosting.RunConfig"/>.
    /// </summary>
    /// <param name="estimator">The estimator.</param>
    /// <exception cref="ArgumentNullException"><paramref name="estimator"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">The run configuration sets neither or both of SaveCheckpointsSteps and SaveCheckpointsSecs.</exception>
    public CheckpointInputPipelineHook(Hosting.IEstimator estimator)
        : this(
            (estimator ?? throw new ArgumentNullException(nameof(estimator))).Config.ToInputHookOptions(),
            estimator.Store,
            manager: null,
            estimator.LoggerFactory,
            estimator.TimeProvider)
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

    /// <summary>On the first call: restores the input checkpoint, or saves an initial one when the chain is empty.</summary>
    /// <param name="context">The step's context.</param>
    /// <param name="cancellationToken">Cancels the restore or save.</param>
    /// <returns>A task.</returns>
    /// <exception cref="CheckpointCorruptedException">Every retained checkpoint is damaged.</exception>
    /// <exception cref="CheckpointNotFoundException">With <see cref="InputRestoreMode.AtGlobalStep"/>: no checkpoint at the global step.</exception>
    /// <exception cref="CheckpointMismatchException">The checkpoint holds other iterators than those registered.</exception>
    /// <exception cref="PipelineAlreadyStartedException">An iterator has already yielded elements.</exception>
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
            await _saver.SaveAsync(context.GlobalStep, context.Timestamp, iterators, wait: true, cancellationToken).ConfigureAwait(false);
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
            await _saver.SaveAsync(context.GlobalStep, context.Timestamp, context.Session.Iterators.ToList(), wait: false, cancellationToken).ConfigureAwait(false);
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

        // A save that failed at this very step (under LogAndContinue) is retried: only a committed save counts.
        await _saver.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (_saver.LastCommittedStep != session.GlobalStep)
        {
            await _saver.SaveAsync(session.GlobalStep, TimeProvider.GetUtcNow(), session.Iterators.ToList(), wait: true, cancellationToken).ConfigureAwait(false);
        }
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
        if (_options.RestoreMode == InputRestoreMode.Latest)
        {
            return await Manager.RestoreLatestAsync(iterators, cancellationToken).ConfigureAwait(false);
        }

        IReadOnlyList<CheckpointReference> retained = await Manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
        return retained.Count == 0
            ? null
            : await Manager.RestoreAsync(globalStep, iterators, cancellationToken).ConfigureAwait(false);
    }
}
