using System.Net;
using System.Text;
using System.Text.Json;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>The status, reason and message of a failed JSON API response.</summary>
internal sealed record GcsError(HttpStatusCode Status, string? Reason, string Message)
{
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>Gets whether the error says the bucket (rather than an object or an upload session) does not exist.</summary>
    public bool IsBucketNotFound =>
        Status == HttpStatusCode.NotFound
        && !Message.StartsWith("No such object", StringComparison.OrdinalIgnoreCase)
        && Message.Contains("bucket", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the error from <paramref name="response"/>'s body (at most 64 KiB), falling back to the reason phrase.</summary>
    public static async Task<GcsError> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string? reason = null;
        string? message = null;
        try
        {
            using var body = new MemoryStream();
            Stream stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                byte[] chunk = new byte[16 * 1024];
                int read;
                while (body.Length < MaxBodyBytes && (read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    body.Write(chunk, 0, read);
                }
            }

            if (body.Length > 0)
            {
                try
                {
                    GcsErrorResponse? parsed = JsonSerializer.Deserialize(body.GetBuffer().AsSpan(0, (int)body.Length), GcsJsonContext.Default.GcsErrorResponse);
                    message = parsed?.Error?.Message;
                    reason = parsed?.Error?.Errors?.FirstOrDefault()?.Reason;
                }
                catch (JsonException)
                {
                    message = Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)Math.Min(body.Length, 500)).Trim();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            // The body could not be read: the status is all there is.
        }

        return new GcsError(response.StatusCode, reason, string.IsNullOrWhiteSpace(message) ? response.ReasonPhrase ?? response.StatusCode.ToString() : message);
    }
}
