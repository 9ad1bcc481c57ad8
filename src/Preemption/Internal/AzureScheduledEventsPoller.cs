using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Preemption.Internal;

/// <summary>
/// Polls Azure Scheduled Events (<c>GET /metadata/scheduledevents?api-version=…</c>, header <c>Metadata: true</c>) for a
/// <c>Preempt</c> event that names this VM in its <c>Resources</c> (or has none), and once the job has saved,
/// acknowledges it with <c>POST /metadata/scheduledevents?api-version=…</c> and
/// <c>{"StartRequests": [{"EventId": "…"}]}</c>.
/// </summary>
internal sealed partial class AzureScheduledEventsPoller : NoticePoller
{
    public const string ClientName = "InputPipeline.Checkpointing.Preemption.Azure";
    internal const string EventsPath = "metadata/scheduledevents";
    internal const string PreemptEventType = "Preempt";

    private readonly IOptions<PreemptionOptions> _allOptions;
    private string[] _noticeEventIds = [];
    private long? _lastIncarnation;

    public AzureScheduledEventsPoller(IOptions<PreemptionOptions> options, IHttpClientFactory clients, PreemptionMonitor monitor, ILogger<AzureScheduledEventsPoller> logger, TimeProvider time)
        : base("Azure Scheduled Events", ClientName, clients, monitor, logger, time)
    {
        _allOptions = options;
    }

    protected override NoticeSourceOptions SourceOptions => Settings;

    /// <summary>Read when first needed (after the options were validated on start), not in the constructor.</summary>
    private AzureScheduledEventsOptions Settings => _allOptions.Value.Azure;

    private string ResourceName => Settings.ResourceName ?? Environment.MachineName;

    private Uri EventsUri => Resolve($"{EventsPath}?api-version={Uri.EscapeDataString(Settings.ApiVersion)}");

    protected override async Task<PollResult> PollOnceAsync(HttpClient client, CancellationToken stoppingToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, EventsUri);
        request.Headers.TryAddWithoutValidation("Metadata", "true");
        MetadataAnswer answer = await SendAsync(client, request, stoppingToken).ConfigureAwait(false);
        if (answer.Status != HttpStatusCode.OK)
        {
            return PollResult.UnexpectedStatus(answer.Status, answer.Body);
        }

        ScheduledEventsDocument? document = ParseDocument(answer.Body, out string? problem);
        if (document is null)
        {
            return PollResult.Malformed(problem!);
        }

        ScheduledEvent[] preempts = [.. document.Events.Where(e => IsPreemptOfThisVm(e, ResourceName))];
        if (preempts.Length == 0)
        {
            if (document.Incarnation != _lastIncarnation && document.Events.Count > 0)
            {
                Log.OtherEvents(Logger, document.Incarnation, string.Join(", ", document.Events.Select(e => $"{e.EventId} {e.EventType} [{string.Join(' ', e.Resources)}]")), ResourceName);
            }

            _lastIncarnation = document.Incarnation;
            return PollResult.NoNotice();
        }

        _noticeEventIds = [.. preempts.Select(e => e.EventId)];
        DateTimeOffset? deadline = preempts.Select(e => e.NotBefore).Where(t => t is not null).Min();
        string detail = string.Join("; ", preempts.Select(e => FormattableString.Invariant(
            $"Scheduled Events {e.EventType} {e.EventId} ({e.EventStatus}) for [{string.Join(", ", e.Resources)}], not before {(e.NotBefore is { } t ? t.ToString("O", CultureInfo.InvariantCulture) : "(none)")}")));
        return PollResult.Found(PreemptionReason.AzurePreempt, detail, deadline);
    }

    protected override Task OnNoticeAsync(HttpClient client, CancellationToken stoppingToken)
    {
        if (!Settings.AcknowledgeAfterSave)
        {
            return Task.CompletedTask;
        }

        string[] eventIds = _noticeEventIds;
        return Monitor.RegisterAcknowledgementAsync(cancellationToken => AcknowledgeAsync(client, eventIds, cancellationToken));
    }

    /// <summary>Whether <paramref name="e"/> is a <c>Preempt</c> event for the VM <paramref name="resourceName"/> (or for every VM: no resources listed).</summary>
    internal static bool IsPreemptOfThisVm(ScheduledEvent e, string resourceName) =>
        string.Equals(e.EventType, PreemptEventType, StringComparison.OrdinalIgnoreCase)
        && (e.Resources.Count == 0 || e.Resources.Contains(resourceName, StringComparer.OrdinalIgnoreCase));

    /// <summary>Parses a Scheduled Events document, or returns <see langword="null"/> and what is wrong with it; internal for tests.</summary>
    internal static ScheduledEventsDocument? ParseDocument(string body, out string? problem)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            JsonElement root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Events", out JsonElement events) || events.ValueKind != JsonValueKind.Array)
            {
                problem = $"the document has no \"Events\" array: {PollResult.Shorten(body)}";
                return null;
            }

            long? incarnation = root.TryGetProperty("DocumentIncarnation", out JsonElement inc) && inc.ValueKind == JsonValueKind.Number && inc.TryGetInt64(out long i) ? i : null;
            var list = new List<ScheduledEvent>();
            foreach (JsonElement e in events.EnumerateArray())
            {
                string? id = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("EventId", out JsonElement idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
                string? type = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("EventType", out JsonElement typeElement) && typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : null;
                if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(type))
                {
                    problem = $"an event has no \"EventId\" or \"EventType\": {PollResult.Shorten(e.GetRawText())}";
                    return null;
                }

                var resources = new List<string>();
                if (e.TryGetProperty("Resources", out JsonElement resourcesElement) && resourcesElement.ValueKind != JsonValueKind.Null)
                {
                    if (resourcesElement.ValueKind != JsonValueKind.Array || resourcesElement.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
                    {
                        problem = $"event {id} has \"Resources\" that are not an array of names: {PollResult.Shorten(resourcesElement.GetRawText())}";
                        return null;
                    }

                    resources.AddRange(resourcesElement.EnumerateArray().Select(r => r.GetString()!));
                }

                string status = e.TryGetProperty("EventStatus", out JsonElement s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : string.Empty;
                DateTimeOffset? notBefore = e.TryGetProperty("NotBefore", out JsonElement nb) && nb.ValueKind == JsonValueKind.String
                    && DateTimeOffset.TryParse(nb.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset t)
                    ? t
                    : null;
                list.Add(new ScheduledEvent(id, type, resources, status, notBefore));
            }

            problem = null;
            return new ScheduledEventsDocument(incarnation, list);
        }
        catch (JsonException ex)
        {
            problem = $"the document is not JSON ({ex.Message}): {PollResult.Shorten(body)}";
            return null;
        }
    }

    /// <summary>The body of the acknowledgement: <c>{"StartRequests":[{"EventId":"…"}]}</c>; internal for tests.</summary>
    internal static byte[] StartRequestsBody(IEnumerable<string> eventIds)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("StartRequests");
            foreach (string id in eventIds)
            {
                writer.WriteStartObject();
                writer.WriteString("EventId", id);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task AcknowledgeAsync(HttpClient client, string[] eventIds, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, EventsUri)
        {
            Content = new ByteArrayContent(StartRequestsBody(eventIds)) { Headers = { ContentType = new("application/json") { CharSet = Encoding.UTF8.WebName } } },
        };
        request.Headers.TryAddWithoutValidation("Metadata", "true");
        MetadataAnswer answer;
        try
        {
            answer = await SendAsync(client, request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or IOException)
        {
            Log.AcknowledgementFailed(Logger, string.Join(", ", eventIds), ex.Message, ex);
            return;
        }

        if (answer.Status is HttpStatusCode.OK or HttpStatusCode.NoContent or HttpStatusCode.Accepted)
        {
            Log.Acknowledged(Logger, string.Join(", ", eventIds));
        }
        else
        {
            Log.AcknowledgementFailed(Logger, string.Join(", ", eventIds), $"HTTP {(int)answer.Status} {answer.Status}: {PollResult.Shorten(answer.Body)}", null);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3050, LogLevel.Debug, "Azure Scheduled Events (incarnation {Incarnation}): {Events}; none is a Preempt of {ResourceName}.")]
        public static partial void OtherEvents(ILogger logger, long? incarnation, string events, string resourceName);

        [LoggerMessage(3051, LogLevel.Information, "Azure Scheduled Events: acknowledged {EventIds} (StartRequests) after the final checkpoint was committed.")]
        public static partial void Acknowledged(ILogger logger, string eventIds);

        [LoggerMessage(3052, LogLevel.Warning, "Azure Scheduled Events: acknowledging {EventIds} failed ({Problem}); Azure proceeds at NotBefore instead.")]
        public static partial void AcknowledgementFailed(ILogger logger, string eventIds, string problem, Exception? exception);
    }
}

/// <summary>A Scheduled Events document: its incarnation and events.</summary>
internal sealed record ScheduledEventsDocument(long? Incarnation, IReadOnlyList<ScheduledEvent> Events);

/// <summary>One scheduled event, with the fields the source uses.</summary>
internal sealed record ScheduledEvent(string EventId, string EventType, IReadOnlyList<string> Resources, string EventStatus, DateTimeOffset? NotBefore);
