namespace InputPipeline.Checkpointing.Hosting;

/// <summary>
/// The run configuration of an <see cref="Estimator{TBatch}"/>, after TensorFlow's <c>RunConfig</c>: where checkpoints
/// go, how often, how many are kept, and which worker this is.
/// </summary>
public sealed class RunConfig
{
    /// <summary>
    /// Gets or sets the model directory: a Local store path used when <see cref="Store"/> is not set. Default
    /// <see langword="null"/>.
    /// </summary>
    public string? ModelDirectory { get; set; }

    /// <summary>Gets or sets the store for model and input checkpoints; takes precedence over <see cref="ModelDirectory"/>. Default <see langword="null"/>.</summary>
    public IInputStateStore? Store { get; set; }

    /// <summary>Gets or sets the checkpoint cadence in steps; exactly one of this and <see cref="SaveCheckpointsSecs"/>. Default <see langword="null"/>.</summary>
    public int? SaveCheckpointsSteps { get; set; }

    /// <summary>Gets or sets the checkpoint cadence in seconds; exactly one of this and <see cref="SaveCheckpointsSteps"/>. Default <see langword="null"/>.</summary>
    public double? SaveCheckpointsSecs { get; set; }

    /// <summary>Gets or sets how many checkpoints of each chain to keep. Default 5.</summary>
    public int KeepCheckpointMax { get; set; } = CheckpointManagerOptions.DefaultKeepMax;

    /// <summary>Gets or sets this task's type. Default <c>worker</c>.</summary>
    public string TaskType { get; set; } = CheckpointInputPipelineHookOptions.DefaultTaskType;

    /// <summary>Gets or sets this task's id. Default 0.</summary>
    public int TaskId { get; set; }

    /// <summary>Gets or sets the number of worker replicas. Default 1.</summary>
    public int NumWorkerReplicas { get; set; } = 1;

    /// <summary>
    /// Gets or sets how an input hook created from the estimator restores. Default
    /// <see cref="InputRestoreMode.AtGlobalStep"/>: the estimator resumes at the latest step that both the model chain and
    /// the input chain have committed, so weights and data agree.
    /// </summary>
    public InputRestoreMode InputRestoreMode { get; set; } = InputRestoreMode.AtGlobalStep;

    /// <summary>Gets or sets whether saves upload in the background. Default <see langword="true"/>.</summary>
    public bool SaveInBackground { get; set; } = true;

    /// <summary>Gets or sets what a failed save does. Default <see cref="SaveFailurePolicy.LogAndContinue"/>.</summary>
    public SaveFailurePolicy OnSaveFailure { get; set; } = SaveFailurePolicy.LogAndContinue;

    /// <summary>
    /// Gets or sets whether the estimator and its input hook take their chains over when training starts (a job
    /// replacing one still running wins) or leave them to the first writer. Default <see cref="OwnershipPolicy.TakeOver"/>.
    /// </summary>
    public OwnershipPolicy Ownership { get; set; } = OwnershipPolicy.TakeOver;

    /// <summary>Returns the input hook options this configuration implies.</summary>
    /// <returns>New options.</returns>
    public CheckpointInputPipelineHookOptions ToInputHookOptions() => new()
    {
        SaveSteps = SaveCheckpointsSteps,
        SaveSecs = SaveCheckpointsSecs,
        KeepMax = KeepCheckpointMax,
        TaskType = TaskType,
        TaskId = TaskId,
        NumWorkerReplicas = NumWorkerReplicas,
        RestoreMode = InputRestoreMode,
        SaveInBackground = SaveInBackground,
        OnSaveFailure = OnSaveFailure,
        Ownership = Ownership,
    };
}
