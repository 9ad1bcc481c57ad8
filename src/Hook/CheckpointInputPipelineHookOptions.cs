using System.Globalization;

namespace InputPipeline.Checkpointing;

/// <summary>What a failed save does to the training loop.</summary>
public enum SaveFailurePolicy
{
    /// <summary>The failure is logged and counted, training goes on, and the next trigger saves again (the default).</summary>
    LogAndContinue = 0,

    /// <summary>The failure is thrown from the next hook call (<c>AfterRunAsync</c> or <c>EndAsync</c>), stopping training.</summary>
    Throw = 1,
}

/// <summary>Which input checkpoint the hook restores on its first <c>BeforeRunAsync</c>.</summary>
public enum InputRestoreMode
{
    /// <summary>The latest retained checkpoint, as TensorFlow's hook does (the default).</summary>
    Latest = 0,

    /// <summary>
    /// The checkpoint taken at exactly the session's global step (the step the model was restored at), so weights and
    /// data never disagree after a resume; a clear <see cref="CheckpointNotFoundException"/> if the chain has checkpoints
    /// but none at that step, and <see cref="CheckpointCorruptedException"/> if that one is damaged (no fallback to another
    /// step). An empty chain still starts with an initial save at the global step (a hook new to the job); use
    /// <see cref="AtStep"/> to fail then as well.
    /// </summary>
    AtGlobalStep = 1,

    /// <summary>
    /// The checkpoint taken at exactly <see cref="CheckpointInputPipelineHookOptions.RestoreStep"/> (or the step given to
    /// <see cref="CheckpointInputPipelineHook.RestoreAtStep"/>), for example the model's restored step or a consistent cut
    /// of several workers (<see cref="CheckpointCuts"/>). The session must start at that global step. It never falls
    /// back and never starts fresh: no checkpoint at that step, even in an empty chain, is
    /// <see cref="CheckpointNotFoundException"/>, and a damaged one is <see cref="CheckpointCorruptedException"/>. Later
    /// sessions of the same hook restore as <see cref="AtGlobalStep"/>.
    /// </summary>
    AtStep = 2,
}

/// <summary>Options of <see cref="CheckpointInputPipelineHook"/>.</summary>
public sealed class CheckpointInputPipelineHookOptions
{
    /// <summary>The task type used in chain names when none is set: <c>worker</c>.</summary>
    public const string DefaultTaskType = "worker";

    /// <summary>
    /// Gets or sets the cadence in steps: save every this many global steps. Exactly one of <see cref="SaveSteps"/> and
    /// <see cref="SaveSecs"/> must be set. Default <see langword="null"/>.
    /// </summary>
    public int? SaveSteps { get; set; }

    /// <summary>
    /// Gets or sets the cadence in seconds: save when this much time has passed since the last save, checked at step
    /// boundaries. Exactly one of <see cref="SaveSteps"/> and <see cref="SaveSecs"/> must be set. Default <see langword="null"/>.
    /// </summary>
    public double? SaveSecs { get; set; }

    /// <summary>Gets or sets how many input checkpoints to retain; at least 1. Default <see cref="CheckpointManagerOptions.DefaultKeepMax"/> (5).</summary>
    public int KeepMax { get; set; } = CheckpointManagerOptions.DefaultKeepMax;

    /// <summary>Gets or sets the number of worker replicas; above 1, each worker writes its own chain. At least 1; default 1.</summary>
    public int NumWorkerReplicas { get; set; } = 1;

    /// <summary>Gets or sets this worker's task type, used in the chain name with several replicas. Default <see cref="DefaultTaskType"/>.</summary>
    public string TaskType { get; set; } = DefaultTaskType;

    /// <summary>Gets or sets this worker's task id, used in the chain name with several replicas. Zero or more; default 0.</summary>
    public int TaskId { get; set; }

    /// <summary>
    /// Gets or sets whether saves upload in the background: the state is captured at the step boundary and the upload
    /// overlaps the following steps (at most one save in flight; the next waits). Default <see langword="true"/>.
    /// </summary>
    public bool SaveInBackground { get; set; } = true;

    /// <summary>Gets or sets what a failed save does. Default <see cref="SaveFailurePolicy.LogAndContinue"/>. Losing ownership of the chain always throws.</summary>
    public SaveFailurePolicy OnSaveFailure { get; set; } = SaveFailurePolicy.LogAndContinue;

    /// <summary>Gets or sets which checkpoint is restored. Default <see cref="InputRestoreMode.Latest"/>.</summary>
    public InputRestoreMode RestoreMode { get; set; } = InputRestoreMode.Latest;

    /// <summary>
    /// Gets or sets the step an <see cref="InputRestoreMode.AtStep"/> restore restores; zero or more, and only with that
    /// mode. Default <see langword="null"/>: the step is given later with
    /// <see cref="CheckpointInputPipelineHook.RestoreAtStep"/> (the first step fails if it is not).
    /// </summary>
    public long? RestoreStep { get; set; }

    /// <summary>Gets or sets the grace period before unreferenced objects are collected as orphans. Default one hour.</summary>
    public TimeSpan OrphanGracePeriod { get; set; } = CheckpointManagerOptions.DefaultOrphanGracePeriod;

    /// <summary>
    /// Gets or sets whether the hook takes its chain over when its first step claims it (a job replacing one still
    /// running wins) or claims it only with its first commit (a second copy of a job stops). Default
    /// <see cref="OwnershipPolicy.TakeOver"/>.
    /// </summary>
    public OwnershipPolicy Ownership { get; set; } = OwnershipPolicy.TakeOver;

    /// <summary>
    /// Gets the chain this hook writes: <c>input</c>, or <c>input_&lt;TaskType&gt;_&lt;TaskId&gt;</c> with more than one worker
    /// replica (base name <c>input.ckpt</c> or <c>input_worker_1.ckpt</c>; state file <c>checkpoint_input</c> or
    /// <c>checkpoint_input_worker_1</c>).
    /// </summary>
    public string Chain => CheckpointKeyLayout.ChainFor(CheckpointKeyLayout.InputChain, NumWorkerReplicas, TaskType, TaskId);

    /// <summary>Checks the options.</summary>
    /// <exception cref="CheckpointOptionsException">
    /// Neither or both of <see cref="SaveSteps"/> and <see cref="SaveSecs"/> are set, or a value is out of range; the
    /// message names the option.
    /// </exception>
    public void Validate()
    {
        if (SaveSteps is null == SaveSecs is null)
        {
            throw new CheckpointOptionsException(
                "SaveSteps/SaveSecs",
                SaveSteps is null
                    ? "one of SaveSteps or SaveSecs must be set (neither is)."
                    : "only one of SaveSteps or SaveSecs may be set (both are).");
        }

        if (SaveSteps is <= 0)
        {
            throw new CheckpointOptionsException(nameof(SaveSteps), $"must be at least 1 (was {SaveSteps}).");
        }

        if (SaveSecs is { } secs && (!double.IsFinite(secs) || secs <= 0))
        {
            throw new CheckpointOptionsException(nameof(SaveSecs), $"must be a positive number of seconds (was {secs.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (KeepMax < 1)
        {
            throw new CheckpointOptionsException(nameof(KeepMax), $"must be at least 1 (was {KeepMax}).");
        }

        if (NumWorkerReplicas < 1)
        {
            throw new CheckpointOptionsException(nameof(NumWorkerReplicas), $"must be at least 1 (was {NumWorkerReplicas}).");
        }

        if (TaskId < 0)
        {
            throw new CheckpointOptionsException(nameof(TaskId), $"must not be negative (was {TaskId}).");
        }

        if (NumWorkerReplicas > 1 && (!StoreKey.IsValidName(TaskType) || !StoreKey.IsValidName(Chain)))
        {
            throw new CheckpointOptionsException(nameof(TaskType), $"\"{TaskType}\" does not make a valid chain name; use letters, digits, '_' and '-'.");
        }

        if (OrphanGracePeriod < TimeSpan.Zero)
        {
            throw new CheckpointOptionsException(nameof(OrphanGracePeriod), "must not be negative.");
        }

        if (RestoreStep is < 0)
        {
            throw new CheckpointOptionsException(nameof(RestoreStep), $"must not be negative (was {RestoreStep}).");
        }

        if (RestoreStep is not null && RestoreMode != InputRestoreMode.AtStep)
        {
            throw new CheckpointOptionsException(nameof(RestoreStep), $"is used only with RestoreMode AtStep (RestoreMode is {RestoreMode}).");
        }

        if (!Enum.IsDefined(Ownership))
        {
            throw new CheckpointOptionsException(nameof(Ownership), $"must be TakeOver or FirstWriterWins (was {Ownership}).");
        }
    }

    internal CheckpointManagerOptions ToManagerOptions() => new()
    {
        Chain = Chain,
        KeepMax = KeepMax,
        OrphanGracePeriod = OrphanGracePeriod,
        Ownership = Ownership,
    };

    internal CheckpointInputPipelineHookOptions Clone() => (CheckpointInputPipelineHookOptions)MemberwiseClone();
}
