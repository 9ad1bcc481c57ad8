using System.Globalization;
using Azure;
using Azure.Identity;
using Azure.Storage.Blobs.Models;

namespace InputPipeline.Checkpointing.AzureBlob.Internal;

/// <summary>Classifies and describes the exceptions of Azure.Storage.Blobs, for the store's exception filters.</summary>
internal static class AzureErrors
{
    /// <summary>Returns whether <paramref name="ex"/> is a failure of the service or of the way to it (as opposed to a bug or a caller's error).</summary>
    public static bool IsStoreFailure(Exception ex) =>
        ex is RequestFailedException
            or AggregateException // the retry policy's "Retry failed after N tries" of network errors
            or AuthenticationFailedException // DefaultAzureCredential found no usable credential
            or IOException
            or HttpRequestException
            or TimeoutException
            or OperationCanceledException; // a per-attempt network timeout, when the caller's token is not cancelled

    /// <summary>Returns whether the container does not exist (404 <c>ContainerNotFound</c>).</summary>
    public static bool IsContainerNotFound(RequestFailedException ex) =>
        ex.Status == 404 && HasCode(ex, BlobErrorCode.ContainerNotFound);

    /// <summary>Returns whether the blob does not exist (404, other than a missing container).</summary>
    public static bool IsBlobNotFound(RequestFailedException ex) =>
        ex.Status == 404 && !HasCode(ex, BlobErrorCode.ContainerNotFound);

    /// <summary>
    /// Returns whether a conditional write failed because its condition did not hold: 409 <c>BlobAlreadyExists</c>
    /// (create-only), 412 (If-Match / If-None-Match), 404 for a compare-and-swap of a missing blob, or 400
    /// <c>InvalidBlockList</c>, which a conditional block commit gets when a concurrent writer committed the blob
    /// first (that commit discarded this writer's uncommitted blocks, and also broke this writer's condition).
    /// </summary>
    public static bool IsConditionFailure(RequestFailedException ex, WriteCondition condition) => condition.Kind switch
    {
        WriteConditionKind.IfAbsent => ex.Status == 412
            || (ex.Status == 409 && HasCode(ex, BlobErrorCode.BlobAlreadyExists))
            || (ex.Status == 400 && HasCode(ex, BlobErrorCode.InvalidBlockList)),
        WriteConditionKind.IfVersionMatches => ex.Status == 412
            || IsBlobNotFound(ex)
            || (ex.Status == 400 && HasCode(ex, BlobErrorCode.InvalidBlockList)),
        _ => false,
    };

    /// <summary>Describes <paramref name="ex"/> in one line: the HTTP status and error code, or the network error, without response headers or content.</summary>
    public static string Describe(Exception ex)
    {
        switch (ex)
        {
            case RequestFailedException { Status: > 0 } failed:
                return string.Create(CultureInfo.InvariantCulture, $"HTTP {failed.Status}{(string.IsNullOrEmpty(failed.ErrorCode) ? string.Empty : " " + failed.ErrorCode)}");
            case AggregateException aggregate when aggregate.InnerExceptions.Count > 0:
                return string.Create(CultureInfo.InvariantCulture, $"{aggregate.InnerExceptions.Count} attempts failed, the last with: {Describe(aggregate.InnerExceptions[^1])}");
            case OperationCanceledException:
                return "the request timed out";
            default:
                string message = FirstLine(ex.Message);
                return ex.InnerException is { } inner && !message.Contains(FirstLine(inner.Message), StringComparison.Ordinal)
                    ? $"{message} ({FirstLine(inner.Message)})"
                    : message;
        }
    }

    private static bool HasCode(RequestFailedException ex, BlobErrorCode code) =>
        string.Equals(ex.ErrorCode, code.ToString(), StringComparison.Ordinal);

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }
}
