using System.Globalization;
using InputPipeline.Checkpointing.Preemption;

namespace InputPipeline.Checkpointing.Samples;

/// <summary>Where a job is in its run, as <see cref="JobProgress"/> sees it.</summary>
public enum JobPhase
{
    /// <summary>Before the first step: resuming (listing and restoring checkpoints) or generating input.</summary>
    Starting,

    /// <summary>Running steps.</summary>
    Training,

    /// <summary>The target step is reached: saving the final checkpoint.</summary>
    Finishing,

    /// <summary>A stop was asked for (SIGTERM, Ctrl+C, a cloud preemption notice): finishing the step, then saving before stopping.</summary>
    Stopping,

    /// <summary>The training session has ended; its final saves are done (committed or not).</summary>
    Ended,
}

/// <summary>What a job's status line shows, at one instant.</summary>
/// <param name="Phase">Where the job is.</param>
/// <param name="Step">The global step reached, or <see langword="null"/> before the first step is known.</param>
/// <param name="TargetStep">The global step the job runs to.</param>
/// <param name="StepsPerSecond">Steps per second over the last few seconds, or <see langword="null"/> until two steps were seen.</param>
/// <param name="CheckpointStep">
/// The step of the last committed checkpoint (the oldest of the chains' latest, since a restart can resume only where
/// every chain has committed), or <see langword="null"/> while some chain has none.
/// </param>
/// <param name="CheckpointAge">How long ago that checkpoint was taken, or <see langword="null"/>.</param>
/// <param name="FailedSaves">The saves that failed so far, over every chain.</param>
/// <param name="StopReason">What asked the job to stop, or <see langword="null"/>.</param>
/// <param name="StopStep">The step the job saves at before stopping (or the final step it saves at), or <see langword="null"/> while it does not know it yet.</param>
public sealed record JobProgressSnapshot(
    JobPhase Phase,
    long? Step,
    long TargetStep,
    double? StepsPerSecond,
    long? CheckpointStep,
    TimeSpan? CheckpointAge,
    long FailedSaves,
    PreemptionReason? StopReason,
    long? StopStep)
{
    /// <summary>
    /// Returns the status line, for example
    /// <c>step 1370/100000 · 48.2 steps/s · checkpoint 1360, 3 s ago · 0 failed saves</c> or, during a preemption,
    /// <c>step 1370/100000 · stop requested (HostStopping): saving at step 1370 before stopping · checkpoint 1360, 3 s ago · 0 failed saves</c>.
    /// </summary>
    /// <returns>One line of plain text.</returns>
    public string ToStatusLine() => string.Join(" · ", Parts());

    /// <summary>Returns the four parts of the status line: the step, what the job is doing, the checkpoint, the failed saves.</summary>
    internal string[] Parts() =>
    [
        Step is { } step
            ? string.Create(CultureInfo.InvariantCulture, $"step {step}/{TargetStep}")
            : string.Create(CultureInfo.InvariantCulture, $"step ?/{TargetStep}"),
        Activity(),
        CheckpointStep is { } at
            ? string.Create(CultureInfo.InvariantCulture, $"checkpoint {at}, {Age(CheckpointAge)}")
            : "no checkpoint yet",
        FailedSaves == 1 ? "1 failed save" : string.Create(CultureInfo.InvariantCulture, $"{FailedSaves} failed saves"),
    ];

    private string Activity() => Phase switch
    {
        JobPhase.Starting => "starting: resuming from the last checkpoint",
        JobPhase.Stopping when StopStep is { } at => string.Create(CultureInfo.InvariantCulture, $"stop requested ({StopReason}): saving at step {at} before stopping"),
        JobPhase.Stopping => string.Create(CultureInfo.InvariantCulture, $"stop requested ({StopReason}): finishing the step under way"),
        JobPhase.Finishing => string.Create(CultureInfo.InvariantCulture, $"saving the final checkpoint at step {StopStep ?? Step}"),
        JobPhase.Ended => "stopped",
        _ => StepsPerSecond is { } rate ? string.Create(CultureInfo.InvariantCulture, $"{rate:0.0} steps/s") : "measuring speed",
    };

    private static string Age(TimeSpan? age) => age switch
    {
        null => "age unknown",
        { TotalSeconds: < 1 } => "just now",
        { TotalMinutes: < 2 } a => string.Create(CultureInfo.InvariantCulture, $"{(long)a.TotalSeconds} s ago"),
        { TotalHours: < 2 } a => string.Create(CultureInfo.InvariantCulture, $"{(long)a.TotalMinutes} min ago"),
        { } a => string.Create(CultureInfo.InvariantCulture, $"{a.TotalHours:0.0} h ago"),
    };
}
