using System.Diagnostics.Metrics;
using System.Globalization;
using InputPipeline.Checkpointing.TorchSharp.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.TorchSharp;

/// <summary>
/// Checkpoints a TorchSharp training job as two chains in one store, saved at the same steps and restored at the same
/// step: the <em>model</em> chain (<c>model.ckpt</c>, state file <c>checkpoint</c>, as an
/// <see cref="Hosting.Estimator{TBatch}"/> names it) holding a <see cref="TorchTrainingState"/>, and the input chain of a
/// <see cref="CheckpointInputPipelineHook"/> holding the iterators registered with the session. Weights and data never
/// disagree: a restart resumes at the newest step where both chains have a checkpoint that verifies.
/// </summary>
/// <remarks>
/// <para>A hand-written loop, in a few lines:</para>
/// <code>
/// var state = new TorchTrainingState(model, optimizer, (o, last) =&gt; StepLR(o, 500, 0.5, last_epoch: last));
/// await using var checkpoints = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 50 }, state);
/// var session = new TrainingSession(await checkpoints.ResumeAsync());   // restores the state where both chains verify; 0 when new
/// session.Iterators.Add("batches", batches);
/// await new MonitoredTrainingSession(session, checkpoints.Hooks).RunAsync((context, ct) =&gt; TrainStepAsync(...), lastStep: 10_000);
/// </code>
/// <para>
/// <see cref="Hooks"/> saves both chains on the options' cadence (captured at the step boundary, uploaded in the
/// background, at most one save of each chain in flight), restores both at the session's first step, and saves both at
/// the end of the session, so a job stopped by a hook (a <c>PreemptionHook</c> after these hooks, say) replays no step.
/// With several worker replicas the chains are <c>model_&lt;TaskType&gt;_&lt;TaskId&gt;</c> and
/// <c>input_&lt;TaskType&gt;_&lt;TaskId&gt;</c>. The options' <see cref="CheckpointInputPipelineHookOptions.RestoreMode"/> and
/// <see cref="CheckpointInputPipelineHookOptions.RestoreStep"/> are not used: the resume step is the one
/// <see cref="ResumeAsync"/> finds.
/// </para>
/// </remarks>
public sealed partial class TorchCheckpointing : IAsyncDisposable
{
    /// <summary>The name of the model chain's only part, the <see cref="TorchTrainingState"/>: <c>model</c>.</summary>
    public const string ModelPartName = "model";

    /// <summary>The model chain of a single worker: <c>model</c>, with the state file <c>checkpoint</c>, as the estimator names it.</summary>
    public const string ModelChain = CheckpointKeyLayout.ModelChain;

    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ModelChainHook _modelHook;
    private readonly AlignedRetention _alignedRetention;
    private int _disposed;

    /// <summary>Creates the checkpointing of <paramref name="state"/> and of the session's iterators in <paramref name="store"/>.</summary>
    /// <param name="store">The store both chains live in.</param>
    /// <param name="options">The cadence, retention, worker identity, background saving and failure policy of both chains; copied.</param>
    /// <param name="state">The training state to save as the model chain.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">The clock for the seconds cadence and durations; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <param name="meterFactory">Creates the <see cref="CheckpointingTelemetry.MeterName"/> meter; <see langword="null"/> (the default) uses a process-wide meter.</param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/>, <paramref name="options"/> or <paramref name="state"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">Neither or both of SaveSteps and SaveSecs are set, or another option is out of range.</exception>
    public TorchCheckpointing(IInputStateStore store, CheckpointInputPipelineHookOptions options, TorchTrainingState state, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(state);
        CheckpointInputPipelineHookOptions chainOptions = AtGlobalStep(options);
        chainOptions.Validate();
        State = state;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<TorchCheckpointing>();
        CheckpointKeyLayout modelLayout = CheckpointKeyLayout.ForModel(chainOptions.NumWorkerReplicas, chainOptions.TaskType, chainOptions.TaskId);
        ModelCheckpoints = new CheckpointManager(
            store,
            new CheckpointManagerOptions
            {
                Chain = modelLayout.Chain,
                StateFileKey = modelLayout.StateFileKey,
                KeepMax = chainOptions.KeepMax,
                OrphanGracePeriod = chainOptions.OrphanGracePeriod,
                Ownership = chainOptions.Ownership,
            },
            _loggerFactory.CreateLogger<CheckpointManager>(),
            timeProvider,
            meterFactory);
        InputHook = new CheckpointInputPipelineHook(store, chainOptions, _loggerFactory, timeProvider, meterFactory);

        // The model chain is saved by a hook of its own, with the same options and clock as the input chain's, so both
        // trigger at the same steps; it sees a view of the session whose only checkpointable is the training state.
        _modelHook = new ModelChainHook(
            new CheckpointInputPipelineHook(chainOptions, store: null, ModelCheckpoints, _loggerFactory, timeProvider, meterFactory),
            state,
            this);
        Hooks = [_modelHook, InputHook];

        // Retention never drops the newest step both chains committed, so failed saves on one chain leave a resume point.
        _alignedRetention = new AlignedRetention(ModelCheckpoints, InputHook.Manager);
    }

    /// <summary>Gets the training state saved as the model chain.</summary>
    public TorchTrainingState State { get; }

    /// <summary>Gets the manager of the model chain (<c>model</c>, state file <c>checkpoint</c>).</summary>
    public CheckpointManager ModelCheckpoints { get; }

    /// <summary>Gets the hook of the input chain (<c>input</c>, state file <c>checkpoint_input</c>), which saves the session's iterators.</summary>
    public CheckpointInputPipelineHook InputHook { get; }

    /// <summary>
    /// Gets the hooks to pass to a <see cref="Hosting.MonitoredTrainingSession"/>: the model chain's, then the input
    /// chain's. Put other hooks after them (a <c>PreemptionHook</c> must come after, to acknowledge a notice only once
    /// both chains are committed).
    /// </summary>
    public IReadOnlyList<ISessionRunHook> Hooks { get; }

    /// <summary>Gets the step <see cref="ResumeAsync"/> found, or <see langword="null"/> before it is called.</summary>
    public long? ResumeStep { get; private set; }

    /// <summary>
    /// Resumes: claims both chains (<see cref="CheckpointManager.ClaimAsync"/>, as the options'
    /// <see cref="CheckpointInputPipelineHookOptions.Ownership"/> says), finds the newest step at which both the model chain and the input chain have a retained checkpoint that
    /// verifies (every part read, lengths and checksums checked), and restores the training state there. A damaged
    /// checkpoint on either side moves the resume step back to the previous step both chains have. Start the session at
    /// the step returned; its first step restores the iterators there (and the training state once more: the model
    /// chain's hook restores at the session's first step like the input chain's, so the state is read twice at start).
    /// </summary>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>The step to start the session at: 0 when neither chain has a checkpoint (a fresh start, nothing restored).</returns>
    /// <exception cref="CheckpointNotFoundException">A chain has checkpoints, but no step has a sound checkpoint in both; the message lists each chain's steps.</exception>
    /// <exception cref="CheckpointMismatchException">The saved training state does not fit <see cref="State"/> (see <see cref="TorchTrainingState.RestoreStateAsync"/>); older checkpoints would not fit either.</exception>
    /// <exception cref="CheckpointOwnershipLostException">Another writer claimed a chain first and this writer's claim lost it.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read or the claim's write.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<long> ResumeAsync(CancellationToken cancellationToken = default)
    {
        // Claim both chains first (as the options' Ownership says), so that an older copy of the job still running stops
        // at its next commit, and the resume step is chosen from exactly what was claimed.
        await ModelCheckpoints.ClaimAsync(cancellationToken).ConfigureAwait(false);
        await InputHook.Manager.ClaimAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<CheckpointReference> models = await ModelCheckpoints.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<CheckpointReference> inputs = await InputHook.Manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
        if (models.Count == 0 && inputs.Count == 0)
        {
            Log.FreshStart(_logger, ModelCheckpoints.Chain, InputHook.Chain);
            ResumeStep = 0;
            return 0;
        }

        var damaged = new List<long>();
        KeyValuePair<string, ICheckpointable>[] target = [new(ModelPartName, State)];
        foreach (CheckpointReference input in inputs.Where(i => models.Any(m => m.Step == i.Step)).DistinctBy(i => i.Step).OrderByDescending(i => i.Step))
        {
            try
            {
                // The input first: it is usually the smaller, and the state is only changed once both have verified.
                await InputHook.Manager.VerifyAsync(input, cancellationToken).ConfigureAwait(false);
                await ModelCheckpoints.RestoreAsync(input.Step, target, cancellationToken).ConfigureAwait(false);
            }
            catch (CheckpointCorruptedException ex)
            {
                Log.StepDamaged(_logger, input.Step, ex);
                damaged.Add(input.Step);
                continue;
            }

            Log.Resuming(_logger, input.Step, ModelCheckpoints.Chain, InputHook.Chain);
            _alignedRetention.MarkCommon(input.Step);
            ResumeStep = input.Step;
            return input.Step;
        }

        throw new CheckpointNotFoundException(
            ModelCheckpoints.Chain,
            $"no step has a sound checkpoint in both the model chain \"{ModelCheckpoints.Chain}\" (steps: {Steps(models)}) and the input chain \"{InputHook.Chain}\" (steps: {Steps(inputs)}){(damaged.Count == 0 ? string.Empty : $"; damaged at common steps {string.Join(", ", damaged)}")}; restoring one without the other would make weights and data disagree.");
    }

    /// <summary>Abandons saves still in flight (the previous checkpoints stay the latest) and releases the managers. Safe to call more than once.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _alignedRetention.Dispose();
        await _modelHook.DisposeAsync().ConfigureAwait(false);
        await InputHook.DisposeAsync().ConfigureAwait(false);
        ModelCheckpoints.Dispose();
    }

    private static CheckpointInputPipelineHookOptions AtGlobalStep(CheckpointInputPipelineHookOptions options) => new()
    {
        SaveSteps = options.SaveSteps,
        SaveSecs = options.SaveSecs,
        KeepMax = options.KeepMax,
        NumWorkerReplicas = options.NumWorkerReplicas,
        TaskType = options.TaskType,
        TaskId = options.TaskId,
        SaveInBackground = options.SaveInBackground,
        OnSaveFailure = options.OnSaveFailure,
        OrphanGracePeriod = options.OrphanGracePeriod,
        Ownership = options.Ownership,

        // Both chains restore at the step the session starts at, the one ResumeAsync found.
        RestoreMode = InputRestoreMode.AtGlobalStep,
        RestoreStep = null,
    };

    private static string Steps(IReadOnlyList<CheckpointReference> checkpoints) =>
        checkpoints.Count == 0 ? "none" : string.Join(", ", checkpoints.Select(c => c.Step));

    private static partial class Log
    {
        [LoggerMessage(4000, LogLevel.Information, "No checkpoint in chains {ModelChain} and {InputChain}: training starts at step 0.")]
        public static partial void FreshStart(ILogger logger, string modelChain, string inputChain);

        [LoggerMessage(4001, LogLevel.Information, "Restored the training state at step {Step}, the newest step where chains {ModelChain} and {InputChain} both have a checkpoint that verifies.")]
        public static partial void Resuming(ILogger logger, long step, string modelChain, string inputChain);

        [LoggerMessage(4002, LogLevel.Warning, "The checkpoints at step {Step} cannot be resumed from; trying the previous step both chains committed.")]
        public static partial void StepDamaged(ILogger logger, long step, Exception exception);
    }
}
