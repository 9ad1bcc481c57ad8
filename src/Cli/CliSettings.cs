namespace InputPipeline.Checkpointing.Cli;

/// <summary>Where the <c>ckpt</c> tool writes and what it reads from its environment; <see cref="CliApp.RunAsync(string[], CliSettings, CancellationToken)"/> takes it.</summary>
public sealed class CliSettings
{
    /// <summary>The default <see cref="ProgressThreshold"/>: 8 MiB.</summary>
    public const long DefaultProgressThreshold = 8L * 1024 * 1024;

    /// <summary>Gets the writer for results (tables, JSON). Default <see cref="Console.Out"/>.</summary>
    public TextWriter Output { get; init; } = Console.Out;

    /// <summary>Gets the writer for errors and warnings. Default <see cref="Console.Error"/>.</summary>
    public TextWriter Error { get; init; } = Console.Error;

    /// <summary>Gets how environment variables are read (connection strings named by <c>--connection-string-env</c>). Default <see cref="Environment.GetEnvironmentVariable(string)"/>.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>
    /// Gets whether <c>copy</c> and <c>prune</c> may draw a Spectre.Console progress bar on <see cref="Output"/>: set it only
    /// when <see cref="Output"/> is a terminal. Default <see langword="false"/>.
    /// </summary>
    public bool ShowProgress { get; init; }

    /// <summary>Gets the number of bytes to move from which a progress bar is drawn (when <see cref="ShowProgress"/> is set). Default <see cref="DefaultProgressThreshold"/>.</summary>
    public long ProgressThreshold { get; init; } = DefaultProgressThreshold;

    /// <summary>
    /// Gets whether Ctrl+C and SIGTERM cancel the running command (which then exits with <see cref="CliExitCodes.Interrupted"/>).
    /// Default <see langword="false"/>, for in-process callers; the <c>ckpt</c> executable sets it.
    /// </summary>
    public bool HandleTerminationSignals { get; init; }

    /// <summary>
    /// Gets the clock of <c>--watch</c>: the time between refreshes, and the ages shown. Default
    /// <see cref="TimeProvider.System"/>; a test passes a fake one to drive refreshes.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
