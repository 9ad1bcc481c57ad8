using System.Net.Sockets;
using Polly.Timeout;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>Classifies and describes the failures of Google.Cloud.Storage.V1 and of the store's own requests.</summary>
internal static class GcsErrors
{
    /// <summary>
    /// Returns whether <paramref name="exception"/> is a failure of the service or of the way to it (an API error, a
    /// network error, a timeout), as opposed to a cancellation by <paramref name="cancellationToken"/> or a bug.
    /// </summary>
    public static bool IsStoreFailure(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested, // a timeout, not the caller
        GoogleApiException or HttpRequestException or IOException or SocketException or TimeoutRejectedException => true,
        _ => false,
    };

    /// <summary>Returns whether <paramref name="exception"/> is an API error with <paramref name="status"/>.</summary>
    public static bool Is(Exception exception, HttpStatusCode status) =>
        exception is GoogleApiException api && api.HttpStatusCode == status;

    /// <summary>Returns whether the answer says the bucket (rather than an object or an upload session) does not exist.</summary>
    public static bool IsBucketNotFound(Exception exception) =>
        exception is GoogleApiException { HttpStatusCode: HttpStatusCode.NotFound } api
        && Message(api) is { } message
        && !message.StartsWith("No such object", StringComparison.OrdinalIgnoreCase)
        && message.Contains("bucket", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Returns whether a failed attempt is worth another: throttling (429) always; a timeout (408), a server error (5xx),
    /// a network error or an attempt timeout only when the request is safe to repeat (<paramref name="idempotent"/>);
    /// a request that never reached the service (it could not connect) always.
    /// </summary>
    public static bool IsTransient(Exception exception, bool idempotent) => exception switch
    {
        GoogleApiException api => api.HttpStatusCode == HttpStatusCode.TooManyRequests
            || (idempotent && (api.HttpStatusCode == HttpStatusCode.RequestTimeout || (int)api.HttpStatusCode >= 500)),
        HttpRequestException http => idempotent || http.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError,
        TimeoutRejectedException or IOException or SocketException => idempotent,
        _ => false,
    };

    /// <summary>Describes a failure in a few words: the status, reason and message of an API error, or the network error.</summary>
    public static string Describe(Exception exception) => exception switch
    {
        GoogleApiException api => string.Create(
            CultureInfo.InvariantCulture,
            $"HTTP {(int)api.HttpStatusCode}{(api.Error?.Errors?.FirstOrDefault()?.Reason is { } reason ? " " + reason : string.Empty)}: {Message(api)}"),
        TimeoutRejectedException => "no response within the attempt timeout (AttemptTimeout)",
        _ => Innermost(exception).Message,
    };

    /// <summary>Runs a write whose failed precondition (HTTP 412) means the write condition did not hold.</summary>
    public static async Task<T> Conditional<T>(WriteCondition condition, string key, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed && condition.Kind != WriteConditionKind.None)
        {
            throw new CheckpointConflictException(GcsInputStateStore.GcsProviderName, key, condition, ex);
        }
    }

    private static string? Message(GoogleApiException exception) => exception.Error?.Message ?? exception.Message;

    private static Exception Innermost(Exception exception)
    {
        Exception current = exception;
        while (current.InnerException is not null && current is HttpRequestException or GoogleApiException)
        {
            current = current.InnerException;
        }

        return current;
    }
}
