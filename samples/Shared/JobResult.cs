namespace InputPipeline.Checkpointing.Samples;

/// <summary>How a job ended: its exit code (one of <see cref="JobExitCodes"/>) and the final line it prints.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Message">
/// The final line: on standard output for <see cref="JobExitCodes.Done"/>, on standard error for any other code.
/// </param>
public sealed record JobResult(int ExitCode, string Message);
