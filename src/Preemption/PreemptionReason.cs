namespace InputPipeline.Checkpointing.Preemption;

/// <summary>Why a preemption was requested: which signal or notice asked the job to save and stop.</summary>
public enum PreemptionReason
{
    /// <summary>
    /// The host is stopping: <c>IHostApplicationLifetime.ApplicationStopping</c> fired, which the generic host's console
    /// lifetime does on SIGTERM (the signal a reclaimed VM's shutdown sends), SIGINT/Ctrl+C and SIGQUIT, and which
    /// <c>StopApplication()</c> does.
    /// </summary>
    HostStopping = 0,

    /// <summary>AWS EC2: the instance metadata item <c>spot/instance-action</c> announced a spot interruption (terminate, stop or hibernate).</summary>
    AwsSpotInterruption = 1,

    /// <summary>Azure: Scheduled Events listed a <c>Preempt</c> event (a Spot VM eviction) for this VM.</summary>
    AzurePreempt = 2,

    /// <summary>Google Compute Engine: the metadata value <c>instance/preempted</c> became <c>TRUE</c>.</summary>
    GcePreempted = 3,

    /// <summary>The application asked for it (<see cref="PreemptionMonitor.RequestPreemption(PreemptionReason, string?, DateTimeOffset?)"/> from its own code).</summary>
    Application = 4,
}
