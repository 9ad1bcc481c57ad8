using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InputPipeline.Checkpointing.Preemption.Tests.Fakes;

/// <summary>
/// EC2 instance metadata service with IMDSv2 required, as AWS documents it: <c>PUT /latest/api/token</c> with
/// <c>X-aws-ec2-metadata-token-ttl-seconds</c> (1–21600, else 400) issues a token; every <c>GET</c> without a valid token
/// is 401; <c>/latest/meta-data/spot/instance-action</c> is 404 until a notice is set, then 200 with
/// <c>{"action": "…", "time": "…"}</c>.
/// </summary>
public sealed class FakeAwsImds : FakeMetadataServer
{
    public const string TokenPath = "/latest/api/token";
    public const string InstanceActionPath = "/latest/meta-data/spot/instance-action";
    private readonly ConcurrentDictionary<string, byte> _valid = new();
    private volatile string? _instanceAction;

    /// <summary>Gets the tokens issued, in order.</summary>
    public ConcurrentQueue<string> IssuedTokens { get; } = new();

    /// <summary>Gets how many GETs were refused for a missing or invalid token.</summary>
    public int Unauthorized => _unauthorized;

    private int _unauthorized;

    /// <summary>Sets the body of <c>spot/instance-action</c> (200); <see langword="null"/> for no notice (404).</summary>
    public void SetInstanceAction(string? body) => _instanceAction = body;

    public void SetNotice(string action, DateTimeOffset time) =>
        SetInstanceAction(string.Create(CultureInfo.InvariantCulture, $$"""{"action": "{{action}}", "time": "{{time.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}}"}"""));

    /// <summary>Invalidates every token issued so far (as when a token expires).</summary>
    public void RevokeTokens() => _valid.Clear();

    protected override void Map(WebApplication app)
    {
        app.MapMethods(TokenPath, ["PUT"], context =>
        {
            string? ttl = context.Request.Headers["X-aws-ec2-metadata-token-ttl-seconds"];
            if (!int.TryParse(ttl, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) || seconds < 1 || seconds > 21_600)
            {
                return Text(context, 400, "");
            }

            string token = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            _valid[token] = 0;
            IssuedTokens.Enqueue(token);
            context.Response.Headers["X-aws-ec2-metadata-token-ttl-seconds"] = ttl;
            return Text(context, 200, token);
        });
        app.MapGet(InstanceActionPath, context =>
        {
            string? token = context.Request.Headers["X-aws-ec2-metadata-token"];
            if (token is null || !_valid.ContainsKey(token))
            {
                Interlocked.Increment(ref _unauthorized);
                return Text(context, 401, "");
            }

            return _instanceAction is { } body ? Text(context, 200, body) : Text(context, 404, NotFoundPage);
        });
    }

    private const string NotFoundPage = """
        <?xml version="1.0" encoding="iso-8859-1"?>
        <html><head><title>404 - Not Found</title></head><body><h1>404 - Not Found</h1></body></html>
        """;
}
