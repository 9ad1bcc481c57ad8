using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InputPipeline.Checkpointing.Preemption.Tests.Fakes;

/// <summary>
/// The Compute Engine metadata server's <c>/computeMetadata/v1/instance/preempted</c>, as Google documents it: requests
/// need <c>Metadata-Flavor: Google</c> (else 403); answers carry <c>Metadata-Flavor: Google</c> and an unquoted
/// <c>ETag</c>; <c>wait_for_change=true</c> holds the request until the value changes or <c>timeout_sec</c> passes, and
/// answers at once when <c>last_etag</c> differs from the current ETag.
/// </summary>
public sealed class FakeGceMetadata : FakeMetadataServer
{
    public const string Path = "/computeMetadata/v1/instance/preempted";
    private readonly object _gate = new();
    private string _value = "FALSE";
    private long _version = 1;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    /// <summary>Gets how many requests are being held (waiting for a change).</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Gets or sets whether answers leave out <c>Metadata-Flavor: Google</c> (not a real metadata server).</summary>
    public bool OmitFlavorHeader { get; set; }

    public string ETag
    {
        get
        {
            lock (_gate)
            {
                return ETagOf(_version);
            }
        }
    }

    /// <summary>Sets the value (<c>TRUE</c>, <c>FALSE</c>, or anything for malformed answers); a new ETag, and held requests answer.</summary>
    public void SetValue(string value)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _value = value;
            _version++;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private static string ETagOf(long version) => string.Create(CultureInfo.InvariantCulture, $"{version * 7919:x8}e7a1");

    protected override void Map(WebApplication app)
    {
        app.MapGet(Path, async context =>
        {
            if (context.Request.Headers["Metadata-Flavor"] != "Google")
            {
                await Text(context, 403, "Missing required header \"Metadata-Flavor\": \"Google\"");
                return;
            }

            bool wait = string.Equals(context.Request.Query["wait_for_change"], "true", StringComparison.OrdinalIgnoreCase);
            string? lastEtag = context.Request.Query["last_etag"];
            int timeoutSec = int.TryParse(context.Request.Query["timeout_sec"], NumberStyles.None, CultureInfo.InvariantCulture, out int t) ? t : 3600;
            Task changed;
            string current;
            lock (_gate)
            {
                changed = _changed.Task;
                current = ETagOf(_version);
            }

            if (wait && (lastEtag is null || lastEtag == current))
            {
                Interlocked.Increment(ref _waiting);
                try
                {
                    await Task.WhenAny(changed, Task.Delay(TimeSpan.FromSeconds(timeoutSec), context.RequestAborted));
                }
                finally
                {
                    Interlocked.Decrement(ref _waiting);
                }
            }

            string value;
            string etag;
            lock (_gate)
            {
                value = _value;
                etag = ETagOf(_version);
            }

            if (!OmitFlavorHeader)
            {
                context.Response.Headers["Metadata-Flavor"] = "Google";
            }

            context.Response.Headers["ETag"] = etag;
            await Text(context, 200, value, "application/text");
        });
    }
}
