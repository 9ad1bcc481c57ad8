using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Preemption.Internal;

/// <summary>
/// Watches the GCE metadata value <c>instance/preempted</c> (header <c>Metadata-Flavor: Google</c>; the answer must carry
/// it too): reads it once, then waits for it to change with <c>wait_for_change=true&amp;last_etag=…&amp;timeout_sec=…</c>, so a
/// change between two requests is never missed. <c>TRUE</c> is a notice.
/// </summary>
internal sealed class GcePreemptionNoticePoller : NoticePoller
{
    public const string ClientName = "InputPipeline.Checkpointing.Preemption.Gce";
    internal const string PreemptedPath = "computeMetadata/v1/instance/preempted";

    private readonly IOptions<PreemptionOptions> _allOptions;
    private string? _etag;

    public GcePreemptionNoticePoller(IOptions<PreemptionOptions> options, IHttpClientFactory clients, PreemptionMonitor monitor, ILogger<GcePreemptionNoticePoller> logger, TimeProvider time)
        : base("GCE", ClientName, clients, monitor, logger, time)
    {
        _allOptions = options;
    }

    protected override NoticeSourceOptions SourceOptions => Settings;

    /// <summary>Read when first needed (after the options were validated on start), not in the constructor.</summary>
    private GcePreemptionNoticeOptions Settings => _allOptions.Value.Gce;

    protected override async Task<PollResult> PollOnceAsync(HttpClient client, CancellationToken stoppingToken)
    {
        string? lastEtag = _etag;
        bool wait = Settings.WaitForChange && lastEtag is not null;
        long waitSeconds = Math.Max(1, (long)Settings.WaitTimeout.TotalSeconds);
        string path = wait
            ? string.Create(CultureInfo.InvariantCulture, $"{PreemptedPath}?wait_for_change=true&last_etag={Uri.EscapeDataString(lastEtag!)}&timeout_sec={waitSeconds}")
            : PreemptedPath;
        using var request = new HttpRequestMessage(HttpMethod.Get, Resolve(path));
        request.Headers.TryAddWithoutValidation("Metadata-Flavor", "Google");

        // Until an answer proves the server sound, the next request is a plain read.
        _etag = null;
        MetadataAnswer answer = await SendAsync(client, request, stoppingToken, wait ? TimeSpan.FromSeconds(waitSeconds) : TimeSpan.Zero).ConfigureAwait(false);
        if (answer.Status != HttpStatusCode.OK)
        {
            return PollResult.UnexpectedStatus(answer.Status, answer.Body);
        }

        if (!string.Equals(answer.MetadataFlavor, "Google", StringComparison.Ordinal))
        {
            return PollResult.Malformed("the answer lacks the header Metadata-Flavor: Google, so it is not from a GCE metadata server");
        }

        string value = answer.Body.Trim();
        if (string.Equals(value, "TRUE", StringComparison.OrdinalIgnoreCase))
        {
            return PollResult.Found(PreemptionReason.GcePreempted, "instance/preempted is TRUE", null);
        }

        if (!string.Equals(value, "FALSE", StringComparison.OrdinalIgnoreCase))
        {
            return PollResult.Malformed($"instance/preempted is neither TRUE nor FALSE: \"{PollResult.Shorten(value)}\"");
        }

        _etag = answer.ETag;

        // Wait for the next change at once after a first read or a change; after an answer that did not wait (the
        // same ETag: timeout_sec passed, or a server that ignores wait_for_change), wait for the poll interval first.
        bool againAtOnce = Settings.WaitForChange && _etag is not null && (lastEtag is null || !string.Equals(_etag, lastEtag, StringComparison.Ordinal));
        return PollResult.NoNotice(againAtOnce);
    }
}
