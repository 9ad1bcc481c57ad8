using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Preemption.Internal;

/// <summary>
/// Polls the EC2 instance metadata service (IMDSv2) for a spot interruption notice: a session token from
/// <c>PUT /latest/api/token</c> (header <c>X-aws-ec2-metadata-token-ttl-seconds</c>), reused until shortly before it
/// expires or until a 401, then <c>GET /latest/meta-data/spot/instance-action</c> with <c>X-aws-ec2-metadata-token</c>:
/// 404 is no notice, 200 with <c>{"action": "terminate|stop|hibernate", "time": "2026-01-02T03:04:05Z"}</c> is one.
/// </summary>
internal sealed partial class AwsSpotNoticePoller : NoticePoller
{
    public const string ClientName = "InputPipeline.Checkpointing.Preemption.Aws";
    internal const string TokenPath = "latest/api/token";
    internal const string InstanceActionPath = "latest/meta-data/spot/instance-action";
    internal const string TokenTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
    internal const string TokenHeader = "X-aws-ec2-metadata-token";
    private static readonly string[] Actions = ["terminate", "stop", "hibernate"];

    private readonly IOptions<PreemptionOptions> _allOptions;
    private string? _token;
    private DateTimeOffset _tokenRefreshAt;

    public AwsSpotNoticePoller(IOptions<PreemptionOptions> options, IHttpClientFactory clients, PreemptionMonitor monitor, ILogger<AwsSpotNoticePoller> logger, TimeProvider time)
        : base("AWS spot", ClientName, clients, monitor, logger, time)
    {
        _allOptions = options;
    }

    protected override NoticeSourceOptions SourceOptions => Settings;

    /// <summary>Read when first needed (after the options were validated on start), not in the constructor.</summary>
    private AwsSpotNoticeOptions Settings => _allOptions.Value.Aws;

    protected override async Task<PollResult> PollOnceAsync(HttpClient client, CancellationToken stoppingToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (_token is null || Time.GetUtcNow() >= _tokenRefreshAt)
            {
                if (await RefreshTokenAsync(client, stoppingToken).ConfigureAwait(false) is { } failure)
                {
                    return failure;
                }
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, Resolve(InstanceActionPath));
            request.Headers.TryAddWithoutValidation(TokenHeader, _token);
            MetadataAnswer answer = await SendAsync(client, request, stoppingToken).ConfigureAwait(false);
            switch (answer.Status)
            {
                case HttpStatusCode.NotFound:
                    return PollResult.NoNotice();
                case HttpStatusCode.OK:
                    return ParseInstanceAction(answer.Body);
                case HttpStatusCode.Unauthorized when attempt == 1:
                    // The token expired or was revoked: get a new one and ask again, once.
                    Log.TokenRejected(Logger);
                    _token = null;
                    continue;
                default:
                    return PollResult.UnexpectedStatus(answer.Status, answer.Body);
            }
        }
    }

    /// <summary>Parses an instance-action document; internal for tests.</summary>
    internal static PollResult ParseInstanceAction(string body)
    {
        string? action;
        string? time;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return PollResult.Malformed($"instance-action is not a JSON object: {PollResult.Shorten(body)}");
            }

            action = document.RootElement.TryGetProperty("action", out JsonElement a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            time = document.RootElement.TryGetProperty("time", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        catch (JsonException ex)
        {
            return PollResult.Malformed($"instance-action is not JSON ({ex.Message}): {PollResult.Shorten(body)}");
        }

        if (action is null || !Actions.Contains(action, StringComparer.OrdinalIgnoreCase))
        {
            return PollResult.Malformed($"instance-action has no \"action\" of terminate, stop or hibernate: {PollResult.Shorten(body)}");
        }

        if (time is null || !DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset at))
        {
            return PollResult.Malformed($"instance-action has no ISO 8601 \"time\": {PollResult.Shorten(body)}");
        }

        return PollResult.Found(PreemptionReason.AwsSpotInterruption, FormattableString.Invariant($"spot instance-action {action.ToLowerInvariant()} at {at:yyyy-MM-ddTHH:mm:ssZ}"), at);
    }

    private async Task<PollResult?> RefreshTokenAsync(HttpClient client, CancellationToken stoppingToken)
    {
        _token = null;
        long ttlSeconds = (long)Settings.TokenTtl.TotalSeconds;
        using var request = new HttpRequestMessage(HttpMethod.Put, Resolve(TokenPath));
        request.Headers.TryAddWithoutValidation(TokenTtlHeader, ttlSeconds.ToString(CultureInfo.InvariantCulture));
        DateTimeOffset requestedAt = Time.GetUtcNow();
        MetadataAnswer answer = await SendAsync(client, request, stoppingToken).ConfigureAwait(false);
        if (answer.Status != HttpStatusCode.OK)
        {
            return PollResult.UnexpectedStatus(answer.Status, $"PUT /{TokenPath} (IMDSv2 token): {answer.Body}");
        }

        string token = answer.Body.Trim();
        if (token.Length == 0 || token.Any(char.IsControl))
        {
            return PollResult.Malformed($"PUT /{TokenPath} answered no usable IMDSv2 token: {PollResult.Shorten(answer.Body)}");
        }

        // Renew a tenth of the lifetime (at most a minute) before it expires.
        TimeSpan ttl = TimeSpan.FromSeconds(ttlSeconds);
        _token = token;
        _tokenRefreshAt = requestedAt + ttl - TimeSpan.FromTicks(Math.Min(ttl.Ticks / 10, TimeSpan.TicksPerMinute));
        Log.TokenObtained(Logger, ttlSeconds);
        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(3040, LogLevel.Debug, "AWS spot preemption notices: obtained an IMDSv2 session token for {TtlSeconds} s.")]
        public static partial void TokenObtained(ILogger logger, long ttlSeconds);

        [LoggerMessage(3041, LogLevel.Debug, "AWS spot preemption notices: the IMDSv2 session token was rejected (401); getting a new one.")]
        public static partial void TokenRejected(ILogger logger);
    }
}
