using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Internal;

/// <summary>What one poll of a metadata service found.</summary>
internal sealed class PollResult
{
    private PollResult(PollResultKind kind, PreemptionNotice? notice, string? problem, Exception? exception, bool again)
    {
        Kind = kind;
        Notice = notice;
        Problem = problem;
        Exception = exception;
        PollAgainAtOnce = again;
    }

    public PollResultKind Kind { get; }

    /// <summary>The notice to request (reason, detail, deadline; <see cref="PreemptionNotice.ReceivedAt"/> is set by the monitor).</summary>
    public PreemptionNotice? Notice { get; }

    public string? Problem { get; }

    public Exception? Exception { get; }

    /// <summary>Whether the next poll starts without waiting for the poll interval (the last request already waited).</summary>
    public bool PollAgainAtOnce { get; }

    public static PollResult NoNotice(bool pollAgainAtOnce = false) => new(PollResultKind.NoNotice, null, null, null, pollAgainAtOnce);

    public static PollResult Found(PreemptionReason reason, string detail, DateTimeOffset? deadline) =>
        new(PollResultKind.Notice, new PreemptionNotice(reason, detail, default, deadline), null, null, false);

    public static PollResult Malformed(string problem) => new(PollResultKind.Malformed, null, problem, null, false);

    public static PollResult UnexpectedStatus(HttpStatusCode status, string? body) =>
        new(PollResultKind.UnexpectedStatus, null, $"HTTP {(int)status} {status}{(string.IsNullOrWhiteSpace(body) ? string.Empty : ": " + Shorten(body))}", null, false);

    public static PollResult Unreachable(string problem, Exception? exception) => new(PollResultKind.Unreachable, null, problem, exception, false);

    internal static string Shorten(string text)
    {
        string oneLine = text.ReplaceLineEndings(" ").Trim();
        return oneLine.Length <= 200 ? oneLine : string.Concat(oneLine.AsSpan(0, 200), "…");
    }
}

/// <summary>A metadata service's answer: status, body, and the headers the sources look at.</summary>
internal sealed record MetadataAnswer(HttpStatusCode Status, string Body, string? ETag, string? MetadataFlavor);

internal enum PollResultKind
{
    NoNotice,
    Notice,
    Malformed,
    UnexpectedStatus,
    Unreachable,
}

/// <summary>
/// A hosted service that polls one cloud's metadata service for a preemption notice until it finds one (then requests
/// the preemption from the monitor) or the host stops. A failed poll — the endpoint down, a timeout, an unexpected
/// status, a malformed answer — is logged and polling goes on: the first failure of a streak at Warning, the next ones
/// at Debug, and the recovery at Information. Nothing it does stops the host.
/// </summary>
internal abstract partial class NoticePoller : BackgroundService
{
    private readonly IHttpClientFactory _clients;
    private readonly string _clientName;
    private Uri? _base;
    private long _pollCount;

    protected NoticePoller(string sourceName, string clientName, IHttpClientFactory clients, PreemptionMonitor monitor, ILogger logger, TimeProvider time)
    {
        SourceName = sourceName;
        _clientName = clientName;
        _clients = clients;
        Monitor = monitor;
        Logger = logger;
        Time = time;
    }

    /// <summary>Gets the source's name for logs, for example <c>AWS spot</c>.</summary>
    public string SourceName { get; }

    /// <summary>Gets the number of polls done (answered or not); for tests and diagnostics.</summary>
    public long PollCount => Interlocked.Read(ref _pollCount);

    protected PreemptionMonitor Monitor { get; }

    protected ILogger Logger { get; }

    protected TimeProvider Time { get; }

    protected abstract NoticeSourceOptions SourceOptions { get; }

    /// <summary>Polls once.</summary>
    /// <param name="client">The source's HTTP client (no timeout of its own: use <see cref="SendAsync"/>).</param>
    /// <param name="stoppingToken">Cancelled when the host stops.</param>
    protected abstract Task<PollResult> PollOnceAsync(HttpClient client, CancellationToken stoppingToken);

    /// <summary>Called when a notice is found, just before the preemption is requested from the monitor (for example to register an acknowledgement, so that it is in place before anyone can acknowledge).</summary>
    protected virtual Task OnNoticeAsync(HttpClient client, CancellationToken stoppingToken) => Task.CompletedTask;

    /// <summary>Resolves a path (without a leading <c>/</c>) against the endpoint, kept as a directory.</summary>
    protected Uri Resolve(string relative)
    {
        if (_base is null)
        {
            Uri endpoint = SourceOptions.Endpoint!;
            _base = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        }

        return new Uri(_base, relative);
    }

    /// <summary>Sends a request with the source's request timeout (plus <paramref name="extraTime"/>) and reads the whole answer.</summary>
    /// <exception cref="TimeoutException">The request timed out.</exception>
    /// <exception cref="HttpRequestException">The endpoint could not be reached, or the answer is larger than the client's buffer.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    protected async Task<MetadataAnswer> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken, TimeSpan extraTime = default)
    {
        TimeSpan timeout = SourceOptions.RequestTimeout + extraTime;
        using var timer = new CancellationTokenSource(timeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
        try
        {
            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            return new MetadataAnswer(response.StatusCode, body, RawHeader(response, "ETag"), RawHeader(response, "Metadata-Flavor"));
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{request.Method} {request.RequestUri} did not answer within {timeout}.", ex);
        }
    }

    /// <summary>A header's first value as sent (not parsed: GCE sends its ETag unquoted).</summary>
    private static string? RawHeader(HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out HeaderStringValues values) ? values.FirstOrDefault() : null;

    /// <inheritdoc/>
    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        NoticeSourceOptions options = SourceOptions;
        if (!options.Enabled)
        {
            return;
        }

        await Task.Yield();
        Log.Started(Logger, SourceName, options.Endpoint!, options.PollInterval);
        HttpClient client = _clients.CreateClient(_clientName);
        int failures = 0;
        PollResultKind? lastFailure = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                PollResult result;
                try
                {
                    result = await PollOnceAsync(client, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is HttpRequestException or TimeoutException or IOException)
                {
                    result = PollResult.Unreachable(ex.Message, ex);
                }

                Interlocked.Increment(ref _pollCount);
                if ((result.Kind is PollResultKind.Notice or PollResultKind.NoNotice) && failures > 0)
                {
                    Log.Recovered(Logger, SourceName, options.Endpoint!, failures);
                    failures = 0;
                    lastFailure = null;
                }

                switch (result.Kind)
                {
                    case PollResultKind.Notice:
                        PreemptionNotice notice = result.Notice!;
                        Log.NoticeReceived(Logger, SourceName, notice.Reason, notice.Detail, notice.Deadline);
                        await OnNoticeAsync(client, stoppingToken).ConfigureAwait(false);
                        Monitor.RequestPreemption(notice.Reason, notice.Detail, notice.Deadline);
                        return;
                    case PollResultKind.NoNotice:
                        break;
                    default:
                        failures++;
                        LogFailure(result, failures, lastFailure != result.Kind);
                        lastFailure = result.Kind;
                        break;
                }

                if (!result.PollAgainAtOnce)
                {
                    await Task.Delay(options.PollInterval, Time, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
#pragma warning disable CA1031 // A notice source must never stop the host or the job: log and give up on this source only.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.Crashed(Logger, SourceName, ex);
        }
    }

    private void LogFailure(PollResult result, int failures, bool firstOfItsKind)
    {
        NoticeSourceOptions options = SourceOptions;
        if (!firstOfItsKind)
        {
            Log.StillFailing(Logger, SourceName, failures, result.Problem ?? string.Empty);
            return;
        }

        switch (result.Kind)
        {
            case PollResultKind.Malformed:
                Log.Malformed(Logger, SourceName, options.Endpoint!, result.Problem ?? string.Empty, options.PollInterval);
                break;
            case PollResultKind.UnexpectedStatus:
                Log.UnexpectedStatus(Logger, SourceName, options.Endpoint!, result.Problem ?? string.Empty, options.PollInterval);
                break;
            default:
                Log.Unreachable(Logger, SourceName, options.Endpoint!, result.Problem ?? string.Empty, options.PollInterval, result.Exception);
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3020, LogLevel.Debug, "{Source} preemption notices: polling {Endpoint} every {Interval}.")]
        public static partial void Started(ILogger logger, string source, Uri endpoint, TimeSpan interval);

        [LoggerMessage(3021, LogLevel.Warning, "{Source} preemption notice: {Detail} (deadline {Deadline}); requesting a preemption ({Reason}).")]
        public static partial void NoticeReceived(ILogger logger, string source, PreemptionReason reason, string detail, DateTimeOffset? deadline);

        [LoggerMessage(3022, LogLevel.Warning, "{Source} preemption notices: the metadata endpoint {Endpoint} could not be reached ({Problem}); polling goes on every {Interval}.")]
        public static partial void Unreachable(ILogger logger, string source, Uri endpoint, string problem, TimeSpan interval, Exception? exception);

        [LoggerMessage(3023, LogLevel.Warning, "{Source} preemption notices: malformed answer from {Endpoint} ({Problem}); it is not taken as a notice, and polling goes on every {Interval}.")]
        public static partial void Malformed(ILogger logger, string source, Uri endpoint, string problem, TimeSpan interval);

        [LoggerMessage(3024, LogLevel.Warning, "{Source} preemption notices: unexpected answer from {Endpoint} ({Problem}); polling goes on every {Interval}.")]
        public static partial void UnexpectedStatus(ILogger logger, string source, Uri endpoint, string problem, TimeSpan interval);

        [LoggerMessage(3025, LogLevel.Debug, "{Source} preemption notices: poll failed again ({Failures} in a row): {Problem}")]
        public static partial void StillFailing(ILogger logger, string source, int failures, string problem);

        [LoggerMessage(3026, LogLevel.Information, "{Source} preemption notices: {Endpoint} answers again after {Failures} failed polls.")]
        public static partial void Recovered(ILogger logger, string source, Uri endpoint, int failures);

        [LoggerMessage(3027, LogLevel.Error, "{Source} preemption notices: the poller stopped on an unexpected error; this source's notices will not be seen, the job goes on.")]
        public static partial void Crashed(ILogger logger, string source, Exception exception);
    }
}
