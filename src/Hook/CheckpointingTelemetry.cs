namespace InputPipeline.Checkpointing;

/// <summary>
/// The names an OpenTelemetry (or any <c>MeterListener</c> / <c>ActivityListener</c>) user subscribes to:
/// one <see cref="System.Diagnostics.Metrics.Meter"/> and one <see cref="System.Diagnostics.ActivitySource"/>, both named
/// <see cref="MeterName"/>. For example <c>.WithMetrics(m =&gt; m.AddMeter(CheckpointingTelemetry.MeterName))</c> and
/// <c>.WithTracing(t =&gt; t.AddSource(CheckpointingTelemetry.ActivitySourceName))</c>.
/// </summary>
/// <remarks>
/// Nothing is measured, tagged or allocated for an instrument or activity no listener is subscribed to. With an
/// <see cref="System.Diagnostics.Metrics.IMeterFactory"/> (given to the constructors, or registered in DI) the meter is
/// created by that factory; without one, a process-wide meter of the same name is used.
/// </remarks>
public static class CheckpointingTelemetry
{
    /// <summary>The name of the meter: <c>InputPipeline.Checkpointing</c>.</summary>
    public const string MeterName = "InputPipeline.Checkpointing";

    /// <summary>The name of the activity source: <c>InputPipeline.Checkpointing</c>.</summary>
    public const string ActivitySourceName = "InputPipeline.Checkpointing";
}

/// <summary>The names of the instruments of the <see cref="CheckpointingTelemetry.MeterName"/> meter.</summary>
public static class CheckpointingInstrumentNames
{
    /// <summary>
    /// <c>input_pipeline.checkpoint.save.duration</c>: histogram, seconds, the time one save took from its first write
    /// to its commit (retention and orphan collection included). Tags: chain, provider, outcome, and error.type on failure.
    /// </summary>
    public const string SaveDuration = "input_pipeline.checkpoint.save.duration";

    /// <summary>
    /// <c>input_pipeline.checkpoint.restore.duration</c>: histogram, seconds, the time one restore took, fallbacks
    /// included. Tags: chain, provider, outcome (<c>success</c>, <c>empty</c>, <c>failure</c>, <c>cancelled</c>), and error.type on failure.
    /// </summary>
    public const string RestoreDuration = "input_pipeline.checkpoint.restore.duration";

    /// <summary>
    /// <c>input_pipeline.checkpoint.stall.duration</c>: histogram, seconds, per checkpoint the time the training loop was
    /// blocked in the hook: capturing the state and waiting for the previous save (and, for the initial and final
    /// checkpoints, for the save itself). Tags: chain, provider, trigger (<c>initial</c>, <c>periodic</c>, <c>final</c>).
    /// </summary>
    public const string StallDuration = "input_pipeline.checkpoint.stall.duration";

    /// <summary><c>input_pipeline.checkpoint.bytes_written</c>: counter, bytes, the bytes of checkpoint parts written. Tags: chain, provider.</summary>
    public const string BytesWritten = "input_pipeline.checkpoint.bytes_written";

    /// <summary><c>input_pipeline.checkpoint.bytes_read</c>: counter, bytes, the bytes of checkpoint parts read by restores and verifications. Tags: chain, provider.</summary>
    public const string BytesRead = "input_pipeline.checkpoint.bytes_read";

    /// <summary><c>input_pipeline.checkpoint.commits</c>: counter, the checkpoints committed. Tags: chain, provider.</summary>
    public const string Commits = "input_pipeline.checkpoint.commits";

    /// <summary><c>input_pipeline.checkpoint.save.failures</c>: counter, the saves that failed (not those cancelled by their caller). Tags: chain, provider, error.type.</summary>
    public const string SaveFailures = "input_pipeline.checkpoint.save.failures";

    /// <summary><c>input_pipeline.checkpoint.restore.fallbacks</c>: counter, the times a restore fell back from a damaged checkpoint to an older one. Tags: chain, provider.</summary>
    public const string RestoreFallbacks = "input_pipeline.checkpoint.restore.fallbacks";

    /// <summary>
    /// <c>input_pipeline.checkpoint.age</c>: observable gauge, seconds, per chain the age of the latest committed
    /// checkpoint this process knows of (committed or listed by a live <see cref="CheckpointManager"/>). Tags: chain, provider.
    /// </summary>
    public const string Age = "input_pipeline.checkpoint.age";
}

/// <summary>The names of the activities of the <see cref="CheckpointingTelemetry.ActivitySourceName"/> source.</summary>
public static class CheckpointingActivityNames
{
    /// <summary><c>input_pipeline.checkpoint.save</c>: one save, parts to retention. Tags: chain, provider, step, manifest key, outcome.</summary>
    public const string Save = "input_pipeline.checkpoint.save";

    /// <summary><c>input_pipeline.checkpoint.commit</c>: the compare-and-swap of the state file, a child of the save. Tags: chain, provider, step, manifest key.</summary>
    public const string Commit = "input_pipeline.checkpoint.commit";

    /// <summary>
    /// <c>input_pipeline.checkpoint.restore</c>: one restore. Tags: chain, provider, the requested step (restores at a
    /// step), the restored step, outcome; one <c>input_pipeline.checkpoint.fallback</c> event per fallback.
    /// </summary>
    public const string Restore = "input_pipeline.checkpoint.restore";

    /// <summary><c>input_pipeline.checkpoint.cut</c>: finding a consistent cut across chains. Tags: chain count, step, outcome.</summary>
    public const string Cut = "input_pipeline.checkpoint.cut";

    /// <summary><c>input_pipeline.checkpoint.fallback</c>: the event added to a restore activity when a damaged checkpoint is skipped. Tags: step, error.type.</summary>
    public const string FallbackEvent = "input_pipeline.checkpoint.fallback";
}

/// <summary>The tag keys of the instruments and activities.</summary>
public static class CheckpointingTagNames
{
    /// <summary><c>checkpoint.chain</c>: the chain, for example <c>input</c> or <c>input_worker_1</c>.</summary>
    public const string Chain = "checkpoint.chain";

    /// <summary><c>checkpoint.provider</c>: the store provider, for example <c>Local</c> or <c>S3</c>.</summary>
    public const string Provider = "checkpoint.provider";

    /// <summary><c>checkpoint.outcome</c>: <c>success</c>, <c>failure</c>, <c>cancelled</c> or (restores) <c>empty</c>.</summary>
    public const string Outcome = "checkpoint.outcome";

    /// <summary><c>checkpoint.trigger</c>: what a stall belongs to: <c>initial</c>, <c>periodic</c> or <c>final</c>.</summary>
    public const string Trigger = "checkpoint.trigger";

    /// <summary><c>checkpoint.step</c> (activities only): the global step saved, committed or restored.</summary>
    public const string Step = "checkpoint.step";

    /// <summary><c>checkpoint.requested_step</c> (activities only): the step a restore at a step asked for.</summary>
    public const string RequestedStep = "checkpoint.requested_step";

    /// <summary><c>checkpoint.manifest_key</c> (activities only): the manifest of the checkpoint saved or restored.</summary>
    public const string ManifestKey = "checkpoint.manifest_key";

    /// <summary><c>checkpoint.fallbacks</c> (restore activity only): how many damaged checkpoints the restore skipped.</summary>
    public const string Fallbacks = "checkpoint.fallbacks";

    /// <summary><c>checkpoint.chain_count</c> (cut activity only): how many chains the cut spans.</summary>
    public const string ChainCount = "checkpoint.chain_count";

    /// <summary><c>error.type</c>: the full name of the exception type of a failure, as OpenTelemetry's semantic conventions name it.</summary>
    public const string ErrorType = "error.type";
}

/// <summary>The values of the <see cref="CheckpointingTagNames.Outcome"/> and <see cref="CheckpointingTagNames.Trigger"/> tags.</summary>
public static class CheckpointingTagValues
{
    /// <summary><c>success</c>.</summary>
    public const string Success = "success";

    /// <summary><c>failure</c>.</summary>
    public const string Failure = "failure";

    /// <summary><c>cancelled</c>: the caller's cancellation token stopped the operation.</summary>
    public const string Cancelled = "cancelled";

    /// <summary><c>empty</c>: a restore of the latest checkpoint found none (a fresh start).</summary>
    public const string Empty = "empty";

    /// <summary><c>initial</c>: the checkpoint the hook saves on its first step when the chain is empty.</summary>
    public const string Initial = "initial";

    /// <summary><c>periodic</c>: a checkpoint the step-or-seconds timer triggered.</summary>
    public const string Periodic = "periodic";

    /// <summary><c>final</c>: the checkpoint saved (or waited for) when the session ends.</summary>
    public const string Final = "final";
}
