using System.Globalization;
using System.Text.Json;

namespace GcsEmulator;

/// <summary>
/// A test-only fault: the next <see cref="Count"/> requests matching <see cref="Path"/> /
/// <see cref="Method"/> / <see cref="Query"/> fail with <see cref="Status"/> (or a dropped connection).
/// </summary>
public sealed class EmulatorFault
{
    /// <summary>HTTP status of the injected error response (default 503).</summary>
    public int Status { get; set; } = 503;

    /// <summary>How many matching requests fail before the fault is used up (default 1).</summary>
    public int Count { get; set; } = 1;

    /// <summary>Matches requests whose decoded path starts with this value; null or empty matches every API request.</summary>
    public string? Path { get; set; }

    /// <summary>HTTP method to match (case-insensitive); null matches any.</summary>
    public string? Method { get; set; }

    /// <summary>Substring the raw query string must contain (for example <c>uploadType=multipart</c>); null matches any.</summary>
    public string? Query { get; set; }

    /// <summary>Abort the connection instead of answering (the client sees a transport error).</summary>
    public bool Abort { get; set; }

    /// <summary>
    /// Process the request first (so it takes effect) and then replace the response with the fault:
    /// models "the write succeeded but the reply was lost".
    /// </summary>
    public bool AfterProcessing { get; set; }

    /// <summary>Delay before the fault is delivered, in milliseconds.</summary>
    public int DelayMs { get; set; }

    /// <summary>Error message in the JSON error body; a status-specific default when null.</summary>
    public string? Message { get; set; }

    /// <summary>Value of a Retry-After header (seconds), if any.</summary>
    public int? RetryAfterSeconds { get; set; }

    internal static EmulatorFault Parse(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("A fault must be a JSON object.");
        }
        var fault = new EmulatorFault();
        foreach (var property in json.EnumerateObject())
        {
            switch (property.Name)
            {
                case "status": fault.Status = property.Value.GetInt32(); break;
                case "count": fault.Count = property.Value.GetInt32(); break;
                case "path": fault.Path = property.Value.GetString(); break;
                case "method": fault.Method = property.Value.GetString(); break;
                case "query": fault.Query = property.Value.GetString(); break;
                case "abort": fault.Abort = property.Value.GetBoolean(); break;
                case "after": fault.AfterProcessing = property.Value.GetBoolean(); break;
                case "delayMs": fault.DelayMs = property.Value.GetInt32(); break;
                case "message": fault.Message = property.Value.GetString(); break;
                case "retryAfter": fault.RetryAfterSeconds = property.Value.GetInt32(); break;
                default: throw new FormatException($"Unknown fault property '{property.Name}'.");
            }
        }
        if (fault.Count < 1)
        {
            throw new FormatException("count must be at least 1.");
        }
        if (!fault.Abort && (fault.Status < 100 || fault.Status > 599))
        {
            throw new FormatException("status must be an HTTP status code.");
        }
        return fault;
    }

    internal EmulatorFault Clone() => (EmulatorFault)MemberwiseClone();

    internal void WriteTo(Utf8JsonWriter writer, int remaining)
    {
        writer.WriteStartObject();
        writer.WriteNumber("status", Status);
        writer.WriteNumber("count", remaining);
        if (Path is not null)
        {
            writer.WriteString("path", Path);
        }
        if (Method is not null)
        {
            writer.WriteString("method", Method);
        }
        if (Query is not null)
        {
            writer.WriteString("query", Query);
        }
        writer.WriteBoolean("abort", Abort);
        writer.WriteBoolean("after", AfterProcessing);
        writer.WriteNumber("delayMs", DelayMs);
        if (Message is not null)
        {
            writer.WriteString("message", Message);
        }
        if (RetryAfterSeconds is { } retryAfter)
        {
            writer.WriteString("retryAfter", retryAfter.ToString(CultureInfo.InvariantCulture));
        }
        writer.WriteEndObject();
    }
}

/// <summary>Holds the armed faults; thread-safe.</summary>
internal sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly List<ArmedFault> _faults = [];

    public void Add(EmulatorFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate)
        {
            _faults.Add(new ArmedFault(fault.Clone()) { Remaining = fault.Count });
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _faults.Clear();
        }
    }

    public IReadOnlyList<(EmulatorFault Fault, int Remaining)> Snapshot()
    {
        lock (_gate)
        {
            return _faults.Select(f => (f.Fault, f.Remaining)).ToList();
        }
    }

    /// <summary>Consumes one use of the first fault matching the request, if any.</summary>
    public EmulatorFault? TryTake(string method, string path, string query)
    {
        lock (_gate)
        {
            for (var i = 0; i < _faults.Count; i++)
            {
                var armed = _faults[i];
                var fault = armed.Fault;
                if ((string.IsNullOrEmpty(fault.Path) || path.StartsWith(fault.Path, StringComparison.Ordinal))
                    && (string.IsNullOrEmpty(fault.Method) || string.Equals(fault.Method, method, StringComparison.OrdinalIgnoreCase))
                    && (string.IsNullOrEmpty(fault.Query) || query.Contains(fault.Query, StringComparison.Ordinal)))
                {
                    if (--armed.Remaining == 0)
                    {
                        _faults.RemoveAt(i);
                    }
                    return fault;
                }
            }
            return null;
        }
    }

    private sealed class ArmedFault(EmulatorFault fault)
    {
        public EmulatorFault Fault { get; } = fault;

        public int Remaining { get; set; }
    }
}
