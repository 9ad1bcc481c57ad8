using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;

namespace InputPipeline.Checkpointing.S3.Internal;

/// <summary>Classifies the exceptions AWSSDK.S3 throws, for the exception filters of <see cref="S3InputStateStore"/>.</summary>
internal static class S3Errors
{
    /// <summary>Returns whether a write or delete condition did not hold: 412, or 409 <c>ConditionalRequestConflict</c>.</summary>
    public static bool IsPreconditionFailed(AmazonServiceException exception) =>
        exception.StatusCode == HttpStatusCode.PreconditionFailed
        || exception.ErrorCode is "PreconditionFailed" or "ConditionalRequestConflict";

    /// <summary>Returns whether the object (not the bucket or the upload) does not exist: 404 <c>NoSuchKey</c>, or a 404 without a body (HEAD).</summary>
    public static bool IsNoSuchKey(AmazonServiceException exception) =>
        exception.StatusCode == HttpStatusCode.NotFound
        && exception.ErrorCode is not ("NoSuchBucket" or "NoSuchUpload");

    /// <summary>Returns whether the bucket does not exist.</summary>
    public static bool IsNoSuchBucket(AmazonServiceException exception) => exception.ErrorCode == "NoSuchBucket";

    /// <summary>Returns whether a ranged read started at or past the end of the object (416 <c>InvalidRange</c>).</summary>
    public static bool IsInvalidRange(AmazonServiceException exception) =>
        exception.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || exception.ErrorCode == "InvalidRange";

    /// <summary>
    /// Returns whether <paramref name="exception"/> is a failure of the store or of the way to it (an SDK exception, a
    /// network error, or a timeout), as opposed to a cancellation by <paramref name="cancellationToken"/> or a bug.
    /// </summary>
    public static bool IsStoreFailure(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested, // an HTTP timeout, not the caller
        AmazonServiceException or AmazonClientException or HttpRequestException or SocketException or TimeoutException or IOException => true,
        _ => false,
    };

    /// <summary>Returns whether the failure is transient (the SDK retried it before giving up): a network error, a timeout, 5xx or throttling.</summary>
    public static bool IsTransient(Exception exception) => exception is not AmazonServiceException { StatusCode: not 0 } service
        || (int)service.StatusCode >= 500
        || service.StatusCode == HttpStatusCode.TooManyRequests
        || service.ErrorCode is "SlowDown" or "Throttling" or "RequestTimeout";

    /// <summary>Describes a failure in a few words, for an exception message.</summary>
    public static string Describe(Exception exception) => exception switch
    {
        AmazonServiceException { StatusCode: not 0 } service =>
            $"{(int)service.StatusCode} {service.StatusCode}{(string.IsNullOrEmpty(service.ErrorCode) ? string.Empty : " " + service.ErrorCode)}: {service.Message}",
        OperationCanceledException => "the request timed out.",
        _ => Innermost(exception).Message,
    };

    private static Exception Innermost(Exception exception)
    {
        Exception current = exception;
        while (current.InnerException is not null && current is AmazonServiceException or AmazonClientException or HttpRequestException)
        {
            current = current.InnerException;
        }

        return current;
    }
}
