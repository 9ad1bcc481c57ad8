using Microsoft.Extensions.Options;

namespace SpotTraining;

/// <summary>The <c>Training</c> configuration section.</summary>
internal sealed class TrainingOptions
{
    public const string SectionName = "Training";

    /// <summary>The global step to reach; the job exits 0 once there (at once if already there).</summary>
    public long Steps { get; set; } = 300;

    /// <summary>The seed of the synthetic data and of the shuffle.</summary>
    public int Seed { get; set; } = 1234;

    /// <summary>Where the synthetic input files live; generated from the seed when absent.</summary>
    public string DataDir { get; set; } = "data/spot-training";

    /// <summary>Artificial work per step, in milliseconds.</summary>
    public int StepDelayMs { get; set; }

    /// <summary>When set, each completed step appends "&lt;step&gt; &lt;sha256 of the batch&gt;" to this file.</summary>
    public string? BatchLog { get; set; }

    /// <summary>
    /// How many input files are read, and how many lines decoded, at once; default the number of processors
    /// (<see cref="Environment.ProcessorCount"/>). The batches do not depend on it, and a checkpoint restores at any value.
    /// </summary>
    public int Parallelism { get; set; } = Environment.ProcessorCount;
}

internal sealed class TrainingOptionsValidator : IValidateOptions<TrainingOptions>
{
    public ValidateOptionsResult Validate(string? name, TrainingOptions options)
    {
        var failures = new List<string>();
        if (options.Steps < 0)
        {
            failures.Add($"Training:Steps: must be zero or more (was {options.Steps}).");
        }

        if (string.IsNullOrWhiteSpace(options.DataDir))
        {
            failures.Add("Training:DataDir: the data directory is not set.");
        }

        if (options.Parallelism < 1)
        {
            failures.Add($"Training:Parallelism: must be 1 or more (was {options.Parallelism}).");
        }

        if (options.StepDelayMs < 0)
        {
            failures.Add($"Training:StepDelayMs: must be zero or more (was {options.StepDelayMs}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
