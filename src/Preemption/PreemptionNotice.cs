namespace InputPipeline.Checkpointing.Preemption;

/// <summary>A preemption request: why, what the source said, when it was received, and when the VM goes away if the source said so.</summary>
/// <param name="Reason">Which signal or notice asked for the preemption.</param>
/// <param name="Detail">What the source said, for logs, for example <c>spot instance-action terminate at 2026-01-02T03:04:05Z</c>.</param>
/// <param name="ReceivedAt">When the monitor received the request (its <see cref="TimeProvider"/>'s clock).</param>
/// <param name="Deadline">
/// When the source says the VM is stopped or reclaimed (AWS <c>time</c>, Azure <c>NotBefore</c>), or <see langword="null"/>
/// when it does not say (SIGTERM, GCE: about 30 seconds after the notice).
/// </param>
public sealed record PreemptionNotice(PreemptionReason Reason, string Detail, DateTimeOffset ReceivedAt, DateTimeOffset? Deadline)
{
    /// <summary>Returns the notice as one line of text, for example <c>AwsSpotInterruption (spot instance-action terminate …)</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Deadline is { } deadline
        ? FormattableString.Invariant($"{Reason} ({Detail}; deadline {deadline:O})")
        : FormattableString.Invariant($"{Reason} ({Detail})");
}

/// <summary>The data of <see cref="PreemptionMonitor.PreemptionRequested"/>.</summary>
public sealed class PreemptionRequestedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="notice">The preemption request.</param>
    /// <exception cref="ArgumentNullException"><paramref name="notice"/> is null.</exception>
    public PreemptionRequestedEventArgs(PreemptionNotice notice)
    {
        ArgumentNullException.ThrowIfNull(notice);
        Notice = notice;
    }

    /// <summary>Gets the preemption request.</summary>
    public PreemptionNotice Notice { get; }
}
