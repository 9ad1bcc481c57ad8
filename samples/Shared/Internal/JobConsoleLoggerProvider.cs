using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Samples.Internal;

/// <summary>
/// Writes log entries to the job's console, one line each: <c>warn: CheckpointManager[1005] message (cause)</c>. The
/// exception's stack follows only with <c>--verbose</c>. Which entries are written is the host's logging configuration
/// (<c>Logging:LogLevel:…</c>); the generic host's own report of a failed start is left out unless verbose, since the
/// job reports that failure itself, on one line.
/// </summary>
internal sealed class JobConsoleLoggerProvider : ILoggerProvider
{
    /// <summary>The category and event of the generic host's "Hosting failed to start", which carries the stack.</summary>
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";
    private const int HostStartFailedEvent = 11;

    private readonly JobConsole _console;
    private readonly bool _verbose;

    public JobConsoleLoggerProvider(JobConsole console, bool verbose)
    {
        _console = console;
        _verbose = verbose;
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    internal static string Format(string category, LogLevel level, EventId eventId, string message, Exception? exception, bool verbose)
    {
        string name = category;
        int generic = name.IndexOf('<', StringComparison.Ordinal);
        if (generic >= 0)
        {
            name = name[..generic];
        }

        name = name[(name.LastIndexOf('.') + 1)..];
        string line = $"{Level(level)}: {name}[{eventId.Id}] {JobFailures.OneLine(message)}";
        if (exception is null)
        {
            return line;
        }

        return verbose
            ? line + Environment.NewLine + exception
            : $"{line} ({JobFailures.OneLine(exception.Message)})";
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class Logger(JobConsoleLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || (!owner._verbose && eventId.Id == HostStartFailedEvent && category == HostCategory))
            {
                return;
            }

            owner._console.WriteLine(Format(category, logLevel, eventId, formatter(state, exception), exception, owner._verbose));
        }
    }
}
