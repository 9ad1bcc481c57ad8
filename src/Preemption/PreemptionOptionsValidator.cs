using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Preemption;

/// <summary>
/// Validates <see cref="PreemptionOptions"/>. Every failure message starts with the full configuration key, for example
/// <c>InputPipelineCheckpointing:Preemption:Aws:Endpoint: "ftp://x/" is not an absolute http or https URI.</c>
/// </summary>
/// <remarks>
/// The settings of every source are checked, enabled or not, so a typo is found before the day the source is switched
/// on. <c>AddPreemptionHandling()</c> registers it to run on start.
/// </remarks>
public sealed class PreemptionOptionsValidator : IValidateOptions<PreemptionOptions>
{
    private const string Section = PreemptionOptions.SectionPath;

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public ValidateOptionsResult Validate(string? name, PreemptionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string[] failures = [.. Problems(options).Select(p => $"{p.Key}: {p.Message}")];
        return failures.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Returns each problem of <paramref name="options"/> as its full configuration key and what is wrong.</summary>
    internal static IEnumerable<(string Key, string Message)> Problems(PreemptionOptions options)
    {
        if (options.Aws is null || options.Azure is null || options.Gce is null)
        {
            yield return (Section, "the Aws, Azure and Gce subsections must not be null.");
            yield break;
        }

        foreach ((string, string) problem in SourceProblems($"{Section}:Aws", options.Aws))
        {
            yield return problem;
        }

        if (options.Aws.TokenTtl < TimeSpan.FromSeconds(1) || options.Aws.TokenTtl > AwsSpotNoticeOptions.MaxTokenTtl)
        {
            yield return ($"{Section}:Aws:TokenTtl", $"must be between 00:00:01 and 06:00:00 (21600 seconds, the IMDSv2 limit); it is {options.Aws.TokenTtl}.");
        }

        foreach ((string, string) problem in SourceProblems($"{Section}:Azure", options.Azure))
        {
            yield return problem;
        }

        if (string.IsNullOrWhiteSpace(options.Azure.ApiVersion))
        {
            yield return ($"{Section}:Azure:ApiVersion", $"the Scheduled Events API version is empty; remove the key to use {AzureScheduledEventsOptions.DefaultApiVersion}.");
        }

        if (options.Azure.ResourceName is { } resource && string.IsNullOrWhiteSpace(resource))
        {
            yield return ($"{Section}:Azure:ResourceName", "the VM name is blank; remove the key to use the machine's host name.");
        }

        foreach ((string, string) problem in SourceProblems($"{Section}:Gce", options.Gce))
        {
            yield return problem;
        }

        if (options.Gce.WaitTimeout < TimeSpan.FromSeconds(1))
        {
            yield return ($"{Section}:Gce:WaitTimeout", $"must be at least 00:00:01; it is {options.Gce.WaitTimeout}.");
        }
    }

    private static IEnumerable<(string Key, string Message)> SourceProblems(string section, NoticeSourceOptions source)
    {
        if (source.Endpoint is null)
        {
            yield return ($"{section}:Endpoint", "the metadata endpoint is not set.");
        }
        else if (!(source.Endpoint.IsAbsoluteUri && (source.Endpoint.Scheme == Uri.UriSchemeHttp || source.Endpoint.Scheme == Uri.UriSchemeHttps)))
        {
            yield return ($"{section}:Endpoint", $"\"{source.Endpoint.OriginalString}\" is not an absolute http or https URI.");
        }

        if (source.PollInterval <= TimeSpan.Zero)
        {
            yield return ($"{section}:PollInterval", $"must be greater than zero; it is {source.PollInterval}.");
        }

        if (source.RequestTimeout <= TimeSpan.Zero)
        {
            yield return ($"{section}:RequestTimeout", $"must be greater than zero; it is {source.RequestTimeout}.");
        }
    }
}
