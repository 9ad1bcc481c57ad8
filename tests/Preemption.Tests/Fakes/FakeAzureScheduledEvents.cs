using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InputPipeline.Checkpointing.Preemption.Tests.Fakes;

/// <summary>
/// Azure Instance Metadata Service's Scheduled Events, as Azure documents it: <c>/metadata/scheduledevents</c> needs
/// the header <c>Metadata: true</c> and an <c>api-version</c> (else 400); GET returns the document
/// (<c>DocumentIncarnation</c>, <c>Events[]</c>); POST with <c>{"StartRequests": [{"EventId": "…"}]}</c> acknowledges
/// events (200), after which they leave the document.
/// </summary>
public sealed class FakeAzureScheduledEvents : FakeMetadataServer
{
    public const string Path = "/metadata/scheduledevents";
    private readonly object _gate = new();
    private int _incarnation;
    private List<Dictionary<string, object?>> _events = [];
    private string? _rawDocument;

    /// <summary>Gets the event ids acknowledged, one list per POST, in order.</summary>
    public ConcurrentQueue<string[]> Acknowledgements { get; } = new();

    /// <summary>Called on each acknowledgement POST, before it is answered.</summary>
    public Action<string[]>? OnAcknowledgement { get; set; }

    public static Dictionary<string, object?> Event(string id, string type, string[] resources, string status = "Scheduled", string? notBefore = "Mon, 19 Sep 2016 18:29:47 GMT") => new()
    {
        ["EventId"] = id,
        ["EventType"] = type,
        ["ResourceType"] = "VirtualMachine",
        ["Resources"] = resources,
        ["EventStatus"] = status,
        ["NotBefore"] = notBefore ?? string.Empty,
        ["Description"] = "",
        ["EventSource"] = "Platform",
        ["DurationInSeconds"] = -1,
    };

    /// <summary>Replaces the events (a new incarnation).</summary>
    public void SetEvents(params Dictionary<string, object?>[] events)
    {
        lock (_gate)
        {
            _events = [.. events];
            _incarnation++;
            _rawDocument = null;
        }
    }

    /// <summary>Answers GET with this body instead of a document.</summary>
    public void SetRawDocument(string body)
    {
        lock (_gate)
        {
            _rawDocument = body;
        }
    }

    private string Document()
    {
        lock (_gate)
        {
            return _rawDocument ?? JsonSerializer.Serialize(new Dictionary<string, object?> { ["DocumentIncarnation"] = _incarnation, ["Events"] = _events });
        }
    }

    protected override void Map(WebApplication app)
    {
        app.MapGet(Path, context =>
        {
            if (Rejected(context) is { } rejection)
            {
                return rejection;
            }

            return Text(context, 200, Document(), "application/json; charset=utf-8");
        });
        app.MapPost(Path, async context =>
        {
            if (Rejected(context) is { } rejection)
            {
                await rejection;
                return;
            }

            string[] ids;
            try
            {
                using JsonDocument body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
                ids = [.. body.RootElement.GetProperty("StartRequests").EnumerateArray().Select(e => e.GetProperty("EventId").GetString()!)];
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                await Text(context, 400, """{"error":"Bad request"}""", "application/json");
                return;
            }

            OnAcknowledgement?.Invoke(ids);
            Acknowledgements.Enqueue(ids);
            lock (_gate)
            {
                _events.RemoveAll(e => ids.Contains((string)e["EventId"]!));
                _incarnation++;
            }

            await Text(context, 200, "");
        });
    }

    private static Task? Rejected(HttpContext context)
    {
        if (context.Request.Headers["Metadata"] != "true")
        {
            return Text(context, 400, """{"error":"Bad request. Required metadata header not specified"}""", "application/json");
        }

        return string.IsNullOrEmpty(context.Request.Query["api-version"])
            ? Text(context, 400, """{"error":"Bad request. api-version was not specified in the request."}""", "application/json")
            : null;
    }
}
