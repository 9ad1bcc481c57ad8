using Microsoft.Extensions.Options;

namespace SpotTorch;

/// <summary>The <c>Training</c> configuration section.</summary>
internal sealed class TrainingOptions
{
    public const string SectionName = "Training";

    /// <summary>The global step to reach; the job exits 0 once there (at once if already there).</summary>
    public long Steps { get; set; } = 2000;

    /// <summary>The seed of the synthetic data, of the shuffle and of the model's initial weights.</summary>
    public int Seed { get; set; } = 1234;

    /// <summary>Where the synthetic input files live; generated from the seed when absent.</summary>
    public string DataDir { get; set; } = "data/spot-torch";

    /// <summary>torch's intra-op threads (<c>torch.set_num_threads</c>); results are reproducible for a fixed count.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>When set, each completed step appends "&lt;step&gt; &lt;hex of the loss's 32 bits&gt;" to this file.</summary>
    public string? LossLog { get; set; }
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

        if (options.Threads < 1)
        {
            failures.Add($"Training:Threads: must be at least 1 (was {options.Threads}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
