namespace InputPipeline.Checkpointing.Samples.Faults;

/// <summary>The <c>FaultInjection</c> section: which faults a fault host arms, and when.</summary>
public sealed class FaultInjectionOptions
{
    /// <summary>The configuration section: <c>FaultInjection</c>.</summary>
    public const string SectionName = "FaultInjection";

    /// <summary>The provider name that selects the fault-injecting store: <c>InputPipelineCheckpointing:Provider=FaultInjecting</c>.</summary>
    public const string ProviderName = "FaultInjecting";

    /// <summary>
    /// Gets or sets the step after which every store write fails, as on a full disk (reads and lists still work);
    /// <see langword="null"/> for never. With <c>InputPipelineCheckpointing:SaveInBackground=false</c> the saves at that
    /// step have committed when the fault is armed, so a restart resumes from exactly that step.
    /// </summary>
    public long? FailWritesAfterStep { get; set; }

    /// <summary>
    /// Gets or sets the key prefix of the writes <see cref="FailWritesAfterStep"/> fails, for example <c>model.</c> for
    /// the model chain alone; <see langword="null"/> (the default) for every write.
    /// </summary>
    public string? FailWritesWithPrefix { get; set; }

    /// <summary>Gets or sets the step that throws an unexpected exception (a bug); <see langword="null"/> for never.</summary>
    public long? ThrowAtStep { get; set; }
}
