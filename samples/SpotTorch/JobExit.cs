using System.Globalization;

namespace SpotTorch;

/// <summary>How a run of the job ended.</summary>
/// <param name="Code">The process exit code (the <see cref="JobExit"/> constants).</param>
/// <param name="Error">What went wrong, for a non-zero code.</param>
/// <param name="Reached">The global step reached.</param>
/// <param name="Target">Training:Steps.</param>
/// <param name="StopReason">Why training stopped early (a preemption request), or <see langword="null"/> when it reached the target.</param>
/// <param name="ParameterHash">The hash of the final parameters, for a run that ended with code 0.</param>
/// <param name="StepsRun">How many steps this run trained (from the resume step to <paramref name="Reached"/>).</param>
/// <param name="TrainingTime">How long the training session took, resume and final saves included.</param>
internal sealed record JobOutcome(int Code, string? Error = null, long Reached = 0, long Target = 0, string? StopReason = null, string? ParameterHash = null, long StepsRun = 0, TimeSpan TrainingTime = default);

/// <summary>
/// The job's exit codes and everything it prints about how it ended, in one place. On exit 0 the last line on standard
/// output is <c>params &lt;lowercase hex SHA-256 of every parameter's bytes, in state-dict order&gt;</c>; errors go to
/// standard error.
/// </summary>
internal static class JobExit
{
    /// <summary>Training:Steps reached, or stopped cleanly (SIGTERM, Ctrl+C, a preemption notice) after saving.</summary>
    public const int Done = 0;

    /// <summary>Anything unexpected.</summary>
    public const int Failed = 1;

    /// <summary>Invalid configuration; the message names the key.</summary>
    public const int InvalidConfiguration = 2;

    /// <summary>The data directory holds other data (another seed, or damaged files).</summary>
    public const int UnusableData = 3;

    /// <summary>A checkpoint failure the job cannot recover from (for example no step where both chains are sound).</summary>
    public const int CheckpointFailure = 4;

    /// <summary>Prints how the run ended and returns its exit code. Call it after the host is disposed, so no log line follows.</summary>
    public static int Report(JobOutcome outcome)
    {
        if (outcome.Code != Done)
        {
            Console.Error.WriteLine(outcome.Error);
            return outcome.Code;
        }

        Console.WriteLine(outcome.StopReason is null
            ? string.Create(CultureInfo.InvariantCulture, $"Reached global step {outcome.Reached} of {outcome.Target}.")
            : string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {outcome.Reached} of {outcome.Target} after a stop request ({outcome.StopReason}); the checkpoint at step {outcome.Reached} is committed."));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Trained {outcome.StepsRun} steps in {outcome.TrainingTime.TotalSeconds:0.000} s."));
        Console.WriteLine("params " + outcome.ParameterHash);
        return Done;
    }
}
