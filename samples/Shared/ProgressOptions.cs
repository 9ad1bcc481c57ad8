using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Samples;

/// <summary>How a job shows its progress: the <c>Progress</c> configuration section.</summary>
public sealed class ProgressOptions
{
    /// <summary>The configuration section: <c>Progress</c>.</summary>
    public const string SectionName = "Progress";

    /// <summary>The default <see cref="Interval"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets where progress goes. Default <see cref="ProgressMode.Auto"/>: one live status line when standard
    /// error is a terminal, a plain progress line every <see cref="Interval"/> otherwise.
    /// </summary>
    public ProgressMode Mode { get; set; } = ProgressMode.Auto;

    /// <summary>Gets or sets the time between two plain progress lines (<c>Progress:Interval</c>, for example <c>00:00:30</c>). Default <see cref="DefaultInterval"/>.</summary>
    public TimeSpan Interval { get; set; } = DefaultInterval;
}

/// <summary>Where a job's progress goes.</summary>
public enum ProgressMode
{
    /// <summary>A live status line when standard error is a terminal that takes ANSI sequences, plain lines otherwise.</summary>
    Auto,

    /// <summary>One live status line, redrawn in place.</summary>
    Live,

    /// <summary>A plain progress line every <see cref="ProgressOptions.Interval"/>, and one whenever the job starts stopping.</summary>
    Plain,

    /// <summary>No progress output; warnings, errors and the final line still appear.</summary>
    Off,
}

/// <summary>Validates <see cref="ProgressOptions"/> on start, naming the key.</summary>
internal sealed class ProgressOptionsValidator : IValidateOptions<ProgressOptions>
{
    public ValidateOptionsResult Validate(string? name, ProgressOptions options)
    {
        var failures = new List<string>();
        if (options.Interval <= TimeSpan.Zero || options.Interval > TimeSpan.FromDays(1))
        {
            failures.Add($"{ProgressOptions.SectionName}:Interval: must be more than zero and at most a day (was {options.Interval}).");
        }

        if (!Enum.IsDefined(options.Mode))
        {
            failures.Add($"{ProgressOptions.SectionName}:Mode: must be Auto, Live, Plain or Off (was {options.Mode}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
