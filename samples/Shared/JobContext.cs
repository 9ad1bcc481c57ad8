using InputPipeline.Checkpointing.Samples.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Samples;

/// <summary>What <see cref="JobHost"/> gives a job's body: its started host's services, and its progress display.</summary>
public sealed class JobContext
{
    private readonly JobConsole _console;

    internal JobContext(IServiceProvider services, JobConsole console, bool verbose)
    {
        Services = services;
        _console = console;
        Verbose = verbose;
    }

    /// <summary>Gets the started host's services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>Gets whether the job runs with <c>--verbose</c> (Debug logs, and stack traces with every failure).</summary>
    public bool Verbose { get; }

    /// <summary>Gets the progress <see cref="StartProgress"/> created, or <see langword="null"/> before.</summary>
    public JobProgress? Progress { get; private set; }

    /// <summary>
    /// Creates the run's <see cref="JobProgress"/> and starts showing it on standard error, as the <c>Progress</c>
    /// section says (<see cref="ProgressOptions"/>): a live status line on a terminal, a plain line every
    /// <c>Progress:Interval</c> otherwise. The display stops when the job's body returns or throws.
    /// </summary>
    /// <param name="targetStep">The global step the run goes to; zero or more.</param>
    /// <returns>The progress: pass it to training as a hook, and let it watch the checkpoint managers.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetStep"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">Progress was already started.</exception>
    public JobProgress StartProgress(long targetStep)
    {
        if (Progress is not null)
        {
            throw new InvalidOperationException("The job's progress was already started.");
        }

        Progress = new JobProgress(targetStep, Services.GetService<TimeProvider>());
        _console.Start(Progress, Services.GetRequiredService<IOptions<ProgressOptions>>().Value);
        return Progress;
    }
}
