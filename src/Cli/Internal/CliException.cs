namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>An expected failure of a command: its message is printed as is (no stack trace) and it exits with <see cref="ExitCode"/>.</summary>
internal sealed class CliException : Exception
{
    public CliException(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }

    public static CliException BadArguments(string message) => new(CliExitCodes.BadArguments, message);

    public static CliException NotFound(string message) => new(CliExitCodes.NotFound, message);

    public static CliException StoreUnavailable(string message, Exception? inner = null) => new(CliExitCodes.StoreUnavailable, message, inner);
}
