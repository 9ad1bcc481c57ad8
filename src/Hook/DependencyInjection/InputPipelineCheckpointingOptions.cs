namespace InputPipeline.Checkpointing;

/// <summary>
/// The options bound from the <c>InputPipelineCheckpointing</c> configuration section by
/// <c>services.AddInputPipelineCheckpointing(configuration)</c>. Each provider binds its own subsection
/// (<c>InputPipelineCheckpointing:Local</c>, <c>:S3</c>, …) into its own options.
/// </summary>
public sealed class InputPipelineCheckpointingOptions
{
    /// <summary>The configuration section: <c>InputPipelineCheckpointing</c>.</summary>
    public const string SectionName = "InputPipelineCheckpointing";

    /// <summary>The provider used when none is configured: <c>Local</c>.</summary>
    public const string DefaultProvider = "Local";

    /// <summary>
    /// Gets or sets the store as a URI — a path or <c>file:///…</c>, <c>s3://bucket/prefix</c>, <c>gs://bucket/prefix</c>
    /// or <c>az://account/container/prefix</c> (see <see cref="StoreUri"/>) — a shortcut for <see cref="Provider"/> plus
    /// the provider's path, bucket or container, and prefix keys. Other provider keys (endpoints, credentials, create-if-
    /// missing) still come from the provider's section. Default <see langword="null"/>.
    /// </summary>
    public string? Store { get; set; }

    /// <summary>Gets or sets the name of the store provider to use (<c>Local</c>, <c>AzureBlob</c>, <c>S3</c>, <c>Gcs</c>); it must be registered. Default <see cref="DefaultProvider"/>.</summary>
    public string Provider { get; set; } = DefaultProvider;

    /// <summary>Gets or sets the cadence in steps; exactly one of this and <see cref="SaveSecs"/>. Default <see langword="null"/>.</summary>
    public int? SaveSteps { get; set; }

    /// <summary>Gets or sets the cadence in seconds; exactly one of this and <see cref="SaveSteps"/>. Default <see langword="null"/>.</summary>
    public double? SaveSecs { get; set; }

    /// <summary>Gets or sets how many checkpoints to keep; at least 1. Default 5.</summary>
    public int KeepMax { get; set; } = CheckpointManagerOptions.DefaultKeepMax;

    /// <summary>Gets or sets the number of worker replicas. Default 1.</summary>
    public int NumWorkerReplicas { get; set; } = 1;

    /// <summary>Gets or sets this worker's task type. Default <c>worker</c>.</summary>
    public string TaskType { get; set; } = CheckpointInputPipelineHookOptions.DefaultTaskType;

    /// <summary>Gets or sets this worker's task id. Default 0.</summary>
    public int TaskId { get; set; }

    /// <summary>Gets or sets whether saves upload in the background. Default <see langword="true"/>.</summary>
    public bool SaveInBackground { get; set; } = true;

    /// <summary>Gets or sets what a failed save does. Default <see cref="SaveFailurePolicy.LogAndContinue"/>.</summary>
    public SaveFailurePolicy OnSaveFailure { get; set; } = SaveFailurePolicy.LogAndContinue;

    /// <summary>Gets or sets which checkpoint the hook restores. Default <see cref="InputRestoreMode.Latest"/>.</summary>
    public InputRestoreMode RestoreMode { get; set; } = InputRestoreMode.Latest;

    /// <summary>
    /// Gets or sets the step the hook restores with <see cref="InputRestoreMode.AtStep"/> (only with that mode; zero or
    /// more). Default <see langword="null"/>: given at run time with <see cref="CheckpointInputPipelineHook.RestoreAtStep"/>.
    /// </summary>
    public long? RestoreStep { get; set; }

    /// <summary>Gets or sets the grace period before unreferenced objects are collected as orphans. Default one hour.</summary>
    public TimeSpan OrphanGracePeriod { get; set; } = CheckpointManagerOptions.DefaultOrphanGracePeriod;

    /// <summary>
    /// Gets or sets whether a starting job takes its chain over (<see cref="OwnershipPolicy.TakeOver"/>: a replacement
    /// wins over an older copy still running) or leaves it to the first writer (<see cref="OwnershipPolicy.FirstWriterWins"/>:
    /// a second copy stops). Default <see cref="OwnershipPolicy.TakeOver"/>.
    /// </summary>
    public OwnershipPolicy Ownership { get; set; } = OwnershipPolicy.TakeOver;

    /// <summary>Returns the hook options these options imply.</summary>
    /// <returns>New hook options.</returns>
    public CheckpointInputPipelineHookOptions ToHookOptions() => new()
    {
        SaveSteps = SaveSteps,
        SaveSecs = SaveSecs,
        KeepMax = KeepMax,
        NumWorkerReplicas = NumWorkerReplicas,
        TaskType = TaskType,
        TaskId = TaskId,
        SaveInBackground = SaveInBackground,
        OnSaveFailure = OnSaveFailure,
        RestoreMode = RestoreMode,
        RestoreStep = RestoreStep,
        OrphanGracePeriod = OrphanGracePeriod,
        Ownership = Ownership,
    };
}
