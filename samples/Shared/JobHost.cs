using System.Globalization;
using InputPipeline.Checkpointing.Samples.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Samples;

/// <summary>
/// Runs a sample job the way every sample shows itself to a person and an orchestrator: a generic host whose logs are
/// one line each on standard error, a progress display (<see cref="JobContext.StartProgress"/>), one line and the
/// documented exit code (<see cref="JobExitCodes"/>) for every expected failure, and a stack trace only for a bug.
/// </summary>
/// <example>
/// <code>
/// return await JobHost.RunAsync(args, "SpotTraining",
///     builder => builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddPreemptionHandling(),
///     async job =>
///     {
///         JobProgress progress = job.StartProgress(targetStep);
///         progress.Watch(inputHook.Manager);
///         long reached = await estimator.TrainAsync(inputFn, hooks: [inputHook, progress, preemption], maxSteps: targetStep);
///         return await progress.FinishAsync(reached, preemption.Monitor.Notice?.Reason);
///     });
/// </code>
/// </example>
public static class JobHost
{
    /// <summary>The switch that turns on Debug logs for the job and the SDK, and stack traces with every failure: <c>--verbose</c> (or <c>-v</c>).</summary>
    public const string VerboseSwitch = "--verbose";

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Builds and starts the host, runs <paramref name="run"/>, prints its final line (and on exit 0 its
    /// <see cref="JobResult.Output"/> lines after it, last on standard output) and returns its exit code; turns what it
    /// throws into one line and an exit code.
    /// </summary>
    /// <param name="args">The command line: <c>--Section:Key=value</c> settings, and <see cref="VerboseSwitch"/>.</param>
    /// <param name="name">The job's log category prefix (its namespace), shown at Debug level with <c>--verbose</c>.</param>
    /// <param name="configure">Adds the job's services and options to the builder (logging and the <c>Progress</c> section are already set up).</param>
    /// <param name="run">The job's body, run once the host has started.</param>
    /// <returns>
    /// The exit code: the one <paramref name="run"/> returns; <see cref="JobExitCodes.InvalidConfiguration"/> for invalid
    /// options; <see cref="JobExitCodes.CheckpointFailure"/> for a <see cref="CheckpointException"/>; a
    /// <see cref="JobFailureException"/>'s own; <see cref="JobExitCodes.Unexpected"/> for anything else.
    /// </returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static async Task<int> RunAsync(string[] args, string name, Action<HostApplicationBuilder> configure, Func<JobContext, Task<JobResult>> run)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(run);
        bool verbose = args.Any(IsVerboseSwitch);
        string[] settings = [.. args.Where(a => !IsVerboseSwitch(a))];
        JobConsole console = JobConsole.ForProcess();
        await using (console.ConfigureAwait(false))
        {
            return await RunAsync(settings, name, verbose, console, Console.Out, configure, run).ConfigureAwait(false);
        }
    }

    internal static async Task<int> RunAsync(string[] args, string name, bool verbose, JobConsole console, TextWriter output, Action<HostApplicationBuilder> configure, Func<JobContext, Task<JobResult>> run)
    {
        IHost? host = null;
        JobContext? job = null;
        try
        {
            HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
            {
                Args = args,
                ContentRootPath = AppContext.BaseDirectory,
            });
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new JobConsoleLoggerProvider(console, verbose));
            if (verbose)
            {
                builder.Logging.AddFilter("InputPipeline", LogLevel.Debug);
                builder.Logging.AddFilter(name, LogLevel.Debug);
            }

            builder.Services.AddOptions<ProgressOptions>().Bind(builder.Configuration.GetSection(ProgressOptions.SectionName)).ValidateOnStart();
            builder.Services.AddSingleton<IValidateOptions<ProgressOptions>, ProgressOptionsValidator>();
            configure(builder);
            host = builder.Build();
            await host.StartAsync().ConfigureAwait(false);
            job = new JobContext(host.Services, console, verbose);
            JobResult result = await run(job).ConfigureAwait(false);
            await console.DisposeAsync().ConfigureAwait(false);
            if (result.ExitCode == JobExitCodes.Done)
            {
                await output.WriteLineAsync(result.Message).ConfigureAwait(false);
                foreach (string line in result.Output)
                {
                    await output.WriteLineAsync(line).ConfigureAwait(false);
                }

                await output.FlushAsync().ConfigureAwait(false);
            }
            else
            {
                console.WriteLine(result.Message);
            }

            return result.ExitCode;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            await console.DisposeAsync().ConfigureAwait(false);
            (int code, string line, bool expected) = JobFailures.Describe(ex);
            if (expected && ex is CheckpointStoreException && job?.Progress?.CommittedEverywhere() is { } resume)
            {
                line += string.Create(CultureInfo.InvariantCulture, $" A restart resumes from step {resume}.");
            }

            console.WriteLine(line);
            if (expected && verbose)
            {
                console.WriteLine(ex.ToString());
            }

            return code;
        }
        finally
        {
            if (host is not null)
            {
                await StopAsync(host, console).ConfigureAwait(false);
            }
        }
    }

    private static bool IsVerboseSwitch(string argument) => argument is VerboseSwitch or "-v";

    private static async Task StopAsync(IHost host, JobConsole console)
    {
        try
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            await host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or AggregateException or InvalidOperationException)
        {
            // The job's outcome is decided; a hosted service that stops badly only gets a line.
            console.WriteLine("warning: the host did not stop cleanly: " + JobFailures.OneLine(ex.Message));
        }
        finally
        {
            if (host is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                host.Dispose();
            }
        }
    }
}
