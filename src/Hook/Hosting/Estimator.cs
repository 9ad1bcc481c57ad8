using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using InputPipeline.Checkpointing.Internal;
using InputPipeline.Checkpointing.Local;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.Hosting;

/// <summary>
/// A small estimator host after TensorFlow's <c>tf.estimator.Estimator</c>: <see cref="TrainAsync"/> runs a monitored
/// training session over an input function with the hooks given, and checkpoints the model (with the global step) as
/// <c>model.ckpt</c> beside the input checkpoint; <see cref="EvaluateAsync"/> runs an evaluation input function without
/// hooks.
/// </summary>
/// <remarks>
/// On the first training call the estimator claims the model chain and the input chain
/// (<see cref="CheckpointManager.ClaimAsync"/>, as <see cref="RunConfig.Ownership"/> says), so that an older job still
/// writing either chain is fenced off, then resumes: it restores the model at the newest step that both the model
/// chain and the input chain have committed and whose two checkpoints verify (a damaged one moves the resume point back
/// to the previous common step), or at the latest model checkpoint when the input chain has none, so that an input
/// hook in <see cref="InputRestoreMode.AtGlobalStep"/> mode restores the data stream at the same step. When no common
/// step is sound, training fails with <see cref="CheckpointNotFoundException"/> rather than letting them disagree.
/// </remarks>
/// <typeparam name="TBatch">The batch type.</typeparam>
public sealed class Estimator<TBatch> : IEstimator, IDisposable
{
    /// <summary>The name the training iterator is registered under in the session's iterators.</summary>
    public const string TrainingIteratorName = "iterator";

    private readonly IEstimatorModel<TBatch> _model;
    private readonly CheckpointManager _modelManager;
    private readonly CheckpointManager _inputManager;
    private readonly ILogger _logger;
    private bool _resumed;
    private bool _claimed;

    /// <summary>Creates an estimator.</summary>
    /// <param name="model">The model.</param>
    /// <param name="config">The run configuration; it must name a store or a model directory and exactly one cadence.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <param name="meterFactory">
    /// Creates the <see cref="CheckpointingTelemetry.MeterName"/> meter of the model and input checkpoints;
    /// <see langword="null"/> (the default) uses a process-wide meter of that name.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="config"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">The configuration names neither a store nor a model directory, or its cadence or retention is invalid.</exception>
    public Estimator(IEstimatorModel<TBatch> model, RunConfig config, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        config.ToInputHookOptions().Validate();
        _model = model;
        Config = config;
        Store = config.Store
            ?? (string.IsNullOrWhiteSpace(config.ModelDirectory)
                ? throw new CheckpointOptionsException(nameof(RunConfig.ModelDirectory), "a model directory or a store must be set.")
                : new LocalInputStateStore(new LocalStoreOptions { Path = config.ModelDirectory }));
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        TimeProvider = timeProvider ?? TimeProvider.System;
        MeterFactory = meterFactory;
        _logger = LoggerFactory.CreateLogger<Estimator<TBatch>>();
        CheckpointKeyLayout modelLayout = CheckpointKeyLayout.ForModel(config.NumWorkerReplicas, config.TaskType, config.TaskId);
        _modelManager = new CheckpointManager(
            Store,
            new CheckpointManagerOptions
            {
                Chain = modelLayout.Chain,
                StateFileKey = modelLayout.StateFileKey,
                KeepMax = config.KeepCheckpointMax,
                Ownership = config.Ownership,
            },
            LoggerFactory.CreateLogger<CheckpointManager>(),
            TimeProvider,
            MeterFactory);
        _inputManager = new CheckpointManager(Store, config.ToInputHookOptions().ToManagerOptions(), LoggerFactory.CreateLogger<CheckpointManager>(), TimeProvider, MeterFactory);
    }

    /// <inheritdoc/>
    public RunConfig Config { get; }

    /// <inheritdoc/>
    public IInputStateStore Store { get; }

    /// <inheritdoc/>
    public ILoggerFactory LoggerFactory { get; }

    /// <inheritdoc/>
    public TimeProvider TimeProvider { get; }

    /// <inheritdoc/>
    public IMeterFactory? MeterFactory { get; }

    /// <summary>Gets the global step the model is at.</summary>
    public long GlobalStep { get; private set; }

    /// <summary>Gets the manager of the model chain (<c>model.ckpt</c>, state file <c>checkpoint</c>).</summary>
    public CheckpointManager ModelCheckpoints => _modelManager;

    /// <summary>Gets the manager of the input chain (<c>input.ckpt</c>, state file <c>checkpoint_input</c>), which training claims and an input hook created from the estimator saves through.</summary>
    public CheckpointManager InputCheckpoints => _inputManager;

    /// <summary>
    /// Trains: restores the model on the first call, then runs steps over the iterator <paramref name="inputFn"/> returns,
    /// registered as the session's only iterator, calling <paramref name="hooks"/> and checkpointing the model on the
    /// configured cadence.
    /// </summary>
    /// <param name="inputFn">Creates the training input pipeline.</param>
    /// <param name="hooks">Hooks to call, for example a <see cref="CheckpointInputPipelineHook"/>; <see langword="null"/> for none.</param>
    /// <param name="steps">How many steps to run from the current global step; <see langword="null"/> to use <paramref name="maxSteps"/> or run until the input ends.</param>
    /// <param name="maxSteps">The global step to stop at; ignored when <paramref name="steps"/> is set. If already reached, nothing runs.</param>
    /// <param name="cancellationToken">Cancels training.</param>
    /// <returns>The global step reached.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inputFn"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> or <paramref name="maxSteps"/> is negative.</exception>
    /// <exception cref="CheckpointOwnershipLostException">A newer job took a chain over (this one is a zombie of a replaced VM).</exception>
    /// <exception cref="CheckpointException">Claiming, restoring or saving a checkpoint failed (see the hooks' failure policies).</exception>
    public async Task<long> TrainAsync(Func<ICheckpointableIterator<TBatch>> inputFn, IEnumerable<ISessionRunHook>? hooks = null, long? steps = null, long? maxSteps = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputFn);
        if (steps is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "Must not be negative.");
        }

        if (maxSteps is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxSteps), maxSteps, "Must not be negative.");
        }

        await ResumeAsync(claim: true, cancellationToken).ConfigureAwait(false);
        long? lastStep = steps is { } n ? GlobalStep + n : maxSteps;
        if (lastStep is { } last && GlobalStep >= last)
        {
            return GlobalStep;
        }

        var session = new TrainingSession(GlobalStep);
        ICheckpointableIterator<TBatch> iterator = inputFn();
        await using (iterator.ConfigureAwait(false))
        {
            session.Iterators.Add(TrainingIteratorName, iterator);
            var modelHook = new ModelSaverHook(this);
            await using (modelHook.ConfigureAwait(false))
            {
                var monitored = new MonitoredTrainingSession(session, [modelHook, .. hooks ?? []], TimeProvider);
                try
                {
                    await monitored.RunAsync(
                        async (context, ct) =>
                        {
                            if (!await iterator.MoveNextAsync(ct).ConfigureAwait(false))
                            {
                                return false;
                            }

                            await _model.TrainStepAsync(iterator.Current, context.GlobalStep + 1, ct).ConfigureAwait(false);
                            return true;
                        },
                        lastStep,
                        cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    GlobalStep = session.GlobalStep;
                }
            }
        }

        return GlobalStep;
    }

    /// <summary>Evaluates the model on the pipeline <paramref name="inputFn"/> returns, without hooks: nothing is restored into it or saved from it.</summary>
    /// <param name="inputFn">Creates the evaluation input pipeline.</param>
    /// <param name="steps">The most batches to evaluate; <see langword="null"/> (the default) evaluates until the input ends.</param>
    /// <param name="cancellationToken">Cancels evaluation.</param>
    /// <returns>The metrics and the global step they belong to.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inputFn"/> is null.</exception>
    public async Task<EvaluationResult> EvaluateAsync(Func<ICheckpointableIterator<TBatch>> inputFn, long? steps = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputFn);
        await ResumeAsync(claim: false, cancellationToken).ConfigureAwait(false);
        ICheckpointableIterator<TBatch> iterator = inputFn();
        await using (iterator.ConfigureAwait(false))
        {
            var counter = new StrongBox<long>();
            IReadOnlyDictionary<string, double> metrics = await _model.EvaluateAsync(Batches(iterator, steps, counter, cancellationToken), cancellationToken).ConfigureAwait(false);
            return new EvaluationResult(GlobalStep, counter.Value, metrics);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _modelManager.Dispose();
        _inputManager.Dispose();
    }

    private static async IAsyncEnumerable<TBatch> Batches(ICheckpointableIterator<TBatch> iterator, long? steps, StrongBox<long> counter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while ((steps is null || counter.Value < steps) && await iterator.MoveNextAsync(cancellationToken).ConfigureAwait(false))
        {
            counter.Value++;
            yield return iterator.Current;
        }
    }

    private async Task ResumeAsync(bool claim, CancellationToken cancellationToken)
    {
        if (claim && !_claimed)
        {
            // Training writes both chains: claim them before choosing the resume point, so no older job moves either
            // chain under the choice. A resume made by an evaluation before is made again on what was claimed.
            await _modelManager.ClaimAsync(cancellationToken).ConfigureAwait(false);
            await _inputManager.ClaimAsync(cancellationToken).ConfigureAwait(false);
            _claimed = true;
            _resumed = false;
        }

        if (_resumed)
        {
            return;
        }

        IReadOnlyList<CheckpointReference> models = await _modelManager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
        if (models.Count > 0)
        {
            KeyValuePair<string, ICheckpointable>[] target = [new("model", _model)];
            CheckpointManager inputs = _inputManager;
            IReadOnlyList<CheckpointReference> inputCheckpoints = await inputs.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            CheckpointReference? restored = null;
            bool aligned = false;

            // The newest step both chains committed whose two checkpoints are sound: a damaged checkpoint on either
            // side moves the resume point back to the previous common step, so weights and data still agree.
            foreach (CheckpointReference model in models.Where(m => inputCheckpoints.Any(i => i.Step == m.Step)).OrderByDescending(m => m.Step))
            {
                try
                {
                    await inputs.VerifyAsync(inputCheckpoints.First(i => i.Step == model.Step), cancellationToken).ConfigureAwait(false);
                    restored = await _modelManager.RestoreAsync(model.Step, target, cancellationToken).ConfigureAwait(false);
                    aligned = true;
                    break;
                }
                catch (CheckpointCorruptedException ex)
                {
                    EstimatorLog.ResumePointDamaged(_logger, model.Step, ex);
                }
            }

            if (restored is null && inputCheckpoints.Count == 0)
            {
                // No input checkpoint at all (the hook is new to this job): the model alone decides.
                restored = await _modelManager.RestoreLatestAsync(target, cancellationToken).ConfigureAwait(false);
            }

            if (restored is null)
            {
                throw new CheckpointNotFoundException(
                    _modelManager.Chain,
                    $"no step has a sound checkpoint in both the model chain (steps {string.Join(", ", models.Select(m => m.Step))}) and the input chain \"{inputs.Chain}\" (steps {string.Join(", ", inputCheckpoints.Select(i => i.Step))}); restoring the model alone would make weights and data disagree.");
            }

            GlobalStep = restored.Step;
            EstimatorLog.ModelRestored(_logger, restored.Step, aligned);
        }

        _resumed = true;
    }

    /// <summary>Saves the model on the run configuration's cadence, through the same commit protocol as the input.</summary>
    private sealed class ModelSaverHook : SessionRunHook, IAsyncDisposable
    {
        private readonly Estimator<TBatch> _owner;
        private readonly PeriodicSaver _saver;
        private readonly KeyValuePair<string, ICheckpointable>[] _targets;
        private bool _firstRun = true;

        public ModelSaverHook(Estimator<TBatch> owner)
        {
            _owner = owner;
            _targets = [new("model", owner._model)];
            RunConfig config = owner.Config;
            _saver = new PeriodicSaver(
                owner._modelManager,
                new StepOrSecondsTimer(config.SaveCheckpointsSteps, config.SaveCheckpointsSecs is { } s ? TimeSpan.FromSeconds(s) : null),
                config.SaveInBackground,
                config.OnSaveFailure,
                (step, failures, ex) => EstimatorLog.ModelSaveFailed(owner._logger, step, failures, ex),
                owner.TimeProvider,
                owner._logger);
        }

        public override async ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            if (!_firstRun)
            {
                return;
            }

            _firstRun = false;
            IReadOnlyList<CheckpointReference> existing = await _owner._modelManager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            if (existing.Any(c => c.Step == context.GlobalStep))
            {
                _saver.MarkSaved(context.GlobalStep, context.Timestamp);
                return;
            }

            await _saver.SaveAsync(context.GlobalStep, context.Timestamp, _targets, wait: true, CheckpointingTagValues.Initial, cancellationToken).ConfigureAwait(false);
        }

        public override async ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            await _saver.ObserveCompletedAsync().ConfigureAwait(false);
            if (_saver.ShouldTrigger(context.GlobalStep, context.Timestamp))
            {
                await _saver.SaveAsync(context.GlobalStep, context.Timestamp, _targets, wait: false, CheckpointingTagValues.Periodic, cancellationToken).ConfigureAwait(false);
            }
        }

        public override async ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default)
        {
            if (_firstRun)
            {
                return;
            }

            await _saver.FinishAsync(session.GlobalStep, () => _targets, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask DisposeAsync() => _saver.DisposeAsync();
    }
}

internal static partial class EstimatorLog
{
    [LoggerMessage(1150, LogLevel.Information, "Restored the model at step {Step} (aligned with an input checkpoint: {Aligned}).")]
    public static partial void ModelRestored(ILogger logger, long step, bool aligned);

    [LoggerMessage(1152, LogLevel.Warning, "The checkpoints at step {Step} cannot be resumed from; trying the previous step both chains committed.")]
    public static partial void ResumePointDamaged(ILogger logger, long step, Exception exception);

    [LoggerMessage(1151, LogLevel.Error, "Saving the model checkpoint at step {Step} failed ({FailedSaves} failures so far).")]
    public static partial void ModelSaveFailed(ILogger logger, long step, long failedSaves, Exception exception);
}
