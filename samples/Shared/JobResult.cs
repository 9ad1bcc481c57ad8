namespace InputPipeline.Checkpointing.Samples;

/// <summary>How a job ended: its exit code (one of <see cref="JobExitCodes"/>) and the final line it prints.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Message">
/// The final line: on standard output for <see cref="JobExitCodes.Done"/>, on standard error for any other code.
/// </param>
public sealed record JobResult(int ExitCode, string Message)
{
    /// <summary>
    /// Gets the lines a finished job prints on standard output after <see cref="Message"/>, in order, when the exit code
    /// is <see cref="JobExitCodes.Done"/>: the job's result for whoever runs it (SpotTorch's <c>params &lt;hash&gt;</c>),
    /// so the last of them is the last line of standard output. Not printed for any other code. Default: none.
    /// </summary>
    public IReadOnlyList<string> Output { get; init; } = [];

    /// <inheritdoc/>
    public bool Equals(JobResult? other) =>
        other is not null && ExitCode == other.ExitCode && Message == other.Message && Output.SequenceEqual(other.Output);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(ExitCode, Message, Output.Count);
}
