using System.CommandLine;
using InputPipeline.Checkpointing.Cli.Commands;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli;

/// <summary>
/// The <c>ckpt</c> tool as a library: parses a command line, runs the command against the SDK's stores and checkpoint
/// manager, and returns the exit code (see <see cref="CliExitCodes"/>). The executable's <c>Main</c> calls it; tests
/// call it in-process.
/// </summary>
public static partial class CliApp
{
    private const string InterruptedMessage =
        "ckpt: interrupted. Nothing half-written is visible: run the same `ckpt copy` again to resume, and `ckpt gc` collects the parts of an interrupted save.";

    /// <summary>Runs <paramref name="args"/>, writing results to <paramref name="output"/> and errors to <paramref name="error"/>.</summary>
    /// <param name="args">The arguments after the program name, for example <c>["list", "s3://bucket/run-7", "--json"]</c>.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="error">Where errors and warnings go.</param>
    /// <param name="cancellationToken">Cancels the command; it then exits with <see cref="CliExitCodes.Interrupted"/>.</param>
    /// <returns>The exit code.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        return RunAsync(args, new CliSettings { Output = output, Error = error }, cancellationToken);
    }

    /// <summary>Runs <paramref name="args"/> with <paramref name="settings"/>.</summary>
    /// <param name="args">The arguments after the program name.</param>
    /// <param name="settings">The writers, environment and terminal behaviour.</param>
    /// <param name="cancellationToken">Cancels the command; it then exits with <see cref="CliExitCodes.Interrupted"/>.</param>
    /// <returns>The exit code.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static async Task<int> RunAsync(string[] args, CliSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(settings);
        var context = new CliContext(settings);
        RootCommand root = CreateRootCommand(context);
        ParseResult result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError parseError in result.Errors)
            {
                settings.Error.WriteLine("ckpt: " + parseError.Message);
            }

            string command = result.CommandResult.Command is RootCommand ? "ckpt" : "ckpt " + result.CommandResult.Command.Name;
            settings.Error.WriteLine($"Run '{command} --help' for usage.");
            return CliExitCodes.BadArguments;
        }

        var invocation = new InvocationConfiguration
        {
            Output = settings.Output,
            Error = settings.Error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = settings.HandleTerminationSignals ? TimeSpan.FromSeconds(10) : null,
        };
        try
        {
            return await result.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            settings.Error.WriteLine(InterruptedMessage);
            return CliExitCodes.Interrupted;
        }
    }

    private static RootCommand CreateRootCommand(CliContext context)
    {
        var root = new RootCommand(
            "ckpt: list, inspect, verify, prune, collect orphans and copy the checkpoints of InputPipeline.Checkpointing. " +
            "A store is a path, file:///path, s3://bucket/prefix, gs://bucket/prefix or az://account/container/prefix; " +
            "credentials come from each cloud's standard chain. Exit codes: 0 ok, 1 unexpected error, 2 bad arguments, " +
            "3 store unavailable, 4 damaged checkpoint, 5 not found, 6 conflict, 130 interrupted.")
        {
            ListCommand.Create(context),
            ShowCommand.Create(context),
            VerifyCommand.Create(context),
            PruneCommand.Create(context),
            GcCommand.Create(context),
            CopyCommand.Create(context),
        };
        return root;
    }

    private const string StoreAdvice = "Check the store's path or URI, --endpoint, the credentials and the network, then run the command again (a `ckpt copy` run again resumes).";
    private const string ConflictAdvice = "Another writer changed the chain meanwhile (a running job?); run the command again.";
    private const string DamageAdvice = "`ckpt verify <store> --all` lists every damaged object.";

    /// <summary>Returns <paramref name="text"/> on one line: an expected failure is one line of standard error.</summary>
    internal static string OneLine(string text) =>
        string.Join(' ', text.Split((char[])['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Returns <paramref name="text"/> ending with a full stop, so that advice can follow it.</summary>
    internal static string Sentence(string text) => text.Length == 0 || text[^1] is '.' or '!' or '?' ? text : text + ".";

    /// <summary>
    /// Rewrites the providers' advice to set a configuration key (<c>Create it, or set InputPipelineCheckpointing:S3:CreateBucketIfMissing
    /// to true.</c>), which a command-line user cannot follow: the tool never creates buckets or containers.
    /// </summary>
    private static string ForCommandLine(string message) =>
        ConfigurationAdvice().Replace(message, "; create it first (ckpt never creates buckets or containers).");

    [System.Text.RegularExpressions.GeneratedRegex(@"\.?[;\s]*[Cc]reate it, or set InputPipelineCheckpointing:\S+ to true[^.]*\.", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex ConfigurationAdvice();

    /// <summary>Runs a command's work and turns the failures it expects into a message and an exit code.</summary>
    internal static Task<int> ExecuteAsync(CliContext context, Func<Task<int>> work, CancellationToken cancellationToken) =>
        ExecuteAsync(context.Err, work, cancellationToken);

    /// <summary>Runs a command's work and turns the failures it expects into one line on <paramref name="error"/> and an exit code.</summary>
    internal static async Task<int> ExecuteAsync(TextWriter error, Func<Task<int>> work, CancellationToken cancellationToken)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error.WriteLine(InterruptedMessage);
            return CliExitCodes.Interrupted;
        }
        catch (CliException ex)
        {
            error.WriteLine("ckpt: " + OneLine(ex.Message));
            return ex.ExitCode;
        }
        catch (CheckpointException ex)
        {
            (int code, string prefix, string advice) = ex switch
            {
                CheckpointOptionsException => (CliExitCodes.BadArguments, "invalid store settings: ", string.Empty),
                CheckpointStoreException => (CliExitCodes.StoreUnavailable, "the store cannot be used: ", StoreAdvice),
                CheckpointOwnershipLostException or CheckpointConflictException => (CliExitCodes.Conflict, "conflict: ", ConflictAdvice),
                CheckpointCorruptedException => (CliExitCodes.Damaged, "damaged checkpoint: ", DamageAdvice),
                CheckpointNotFoundException => (CliExitCodes.NotFound, string.Empty, string.Empty),
                _ => (CliExitCodes.UnexpectedError, string.Empty, string.Empty),
            };
            string message = OneLine(ex.Message);
            string forCommandLine = ForCommandLine(message);
            bool advised = forCommandLine != message; // the provider's own advice, rewritten for the tool, already says what to do
            error.WriteLine("ckpt: " + prefix + (advice.Length == 0 || advised ? forCommandLine : Sentence(forCommandLine) + " " + advice));
            return code;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            error.WriteLine("ckpt: unexpected error (please report it): " + ex);
            return CliExitCodes.UnexpectedError;
        }
    }
}
