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

    /// <summary>
    /// Rewrites the providers' advice to set a configuration key (<c>Create it, or set InputPipelineCheckpointing:S3:CreateBucketIfMissing
    /// to true.</c>), which a command-line user cannot follow: the tool never creates buckets or containers.
    /// </summary>
    private static string ForCommandLine(string message) =>
        ConfigurationAdvice().Replace(message, "; create it first (ckpt never creates buckets or containers).");

    [System.Text.RegularExpressions.GeneratedRegex(@"\.?[;\s]*[Cc]reate it, or set InputPipelineCheckpointing:\S+ to true[^.]*\.", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex ConfigurationAdvice();

    /// <summary>Runs a command's work and turns the failures it expects into a message and an exit code.</summary>
    internal static async Task<int> ExecuteAsync(CliContext context, Func<Task<int>> work, CancellationToken cancellationToken)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            context.Err.WriteLine(InterruptedMessage);
            return CliExitCodes.Interrupted;
        }
        catch (CliException ex)
        {
            context.Err.WriteLine("ckpt: " + ex.Message);
            return ex.ExitCode;
        }
        catch (CheckpointException ex)
        {
            (int code, string prefix) = ex switch
            {
                CheckpointOptionsException => (CliExitCodes.BadArguments, "invalid store settings: "),
                CheckpointStoreException => (CliExitCodes.StoreUnavailable, "the store cannot be used: "),
                CheckpointOwnershipLostException or CheckpointConflictException => (CliExitCodes.Conflict, "conflict: "),
                CheckpointCorruptedException => (CliExitCodes.Damaged, "damaged checkpoint: "),
                CheckpointNotFoundException => (CliExitCodes.NotFound, string.Empty),
                _ => (CliExitCodes.UnexpectedError, string.Empty),
            };
            context.Err.WriteLine("ckpt: " + prefix + ForCommandLine(ex.Message));
            return code;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            context.Err.WriteLine("ckpt: unexpected error (please report it): " + ex);
            return CliExitCodes.UnexpectedError;
        }
    }
}
