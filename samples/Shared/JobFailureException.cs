namespace InputPipeline.Checkpointing.Samples;

/// <summary>
/// An expected failure of a job that <see cref="JobHost"/> reports as its message alone, on one line of standard error,
/// and exits with <see cref="ExitCode"/>: no stack trace (that is printed with <c>--verbose</c>).
/// </summary>
public class JobFailureException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="exitCode">The exit code, one of <see cref="JobExitCodes"/>.</param>
    /// <param name="message">One line: what happened and what to do.</param>
    /// <param name="innerException">The cause, or <see langword="null"/> (the default).</param>
    public JobFailureException(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    /// <summary>Gets the exit code.</summary>
    public int ExitCode { get; }
}
