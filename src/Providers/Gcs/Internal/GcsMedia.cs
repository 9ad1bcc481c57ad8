using System.Net.Http.Headers;
using Object = Google.Apis.Storage.v1.Data.Object;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// The two requests the store sends itself, through the client's own authenticated HTTP client (its credentials, user
/// agent and headers), where Google.Cloud.Storage.V1 has no call that does the same in one round trip: a download that
/// also tells the object's generation, and a one-request (<c>multipart</c>) upload. Failures come back as the client
/// library's <see cref="GoogleApiException"/>, built by the library from the error response.
/// </summary>
internal static class GcsMedia
{
    /// <summary>The content type of every object the store writes: <c>application/octet-stream</c>.</summary>
    public const string OctetStream = "application/octet-stream";

    /// <summary>Returns the version of an object the service answered a write with: its generation.</summary>
    public static StoreVersion VersionOf(string key, Object written) =>
        written.Generation is { } generation and > 0
            ? new StoreVersion(generation.ToString(CultureInfo.InvariantCulture))
            : throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, "writing failed: the service answered without the object's generation.");

    /// <summary>
    /// Sends a <c>GET … ?alt=media</c> from <paramref name="offset"/> and returns the content with the metadata of the
    /// generation it belongs to, <see langword="null"/> for a missing object, or <see cref="OffsetRead.Attempt.PastEnd"/>.
    /// </summary>
    public static async Task<OffsetRead.Attempt> DownloadAsync(StorageClient client, Uri uri, string key, long offset, Func<Exception, CheckpointStoreException> translate, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
        }

        HttpResponseMessage response = await client.Service.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            switch (response.StatusCode)
            {
                case HttpStatusCode.OK or HttpStatusCode.PartialContent:
                    break;
                case HttpStatusCode.RequestedRangeNotSatisfiable:
                    response.Dispose();
                    return OffsetRead.Attempt.PastEnd;
                default:
                    GoogleApiException error = await ErrorAsync(client, response).ConfigureAwait(false);
                    response.Dispose();
                    return error.HttpStatusCode == HttpStatusCode.NotFound && !GcsErrors.IsBucketNotFound(error)
                        ? OffsetRead.Attempt.Found(null)
                        : throw error;
            }

            string? generation = response.Headers.TryGetValues("x-goog-generation", out IEnumerable<string>? values) ? values.FirstOrDefault() : null;
            if (!long.TryParse(generation, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed) || parsed <= 0)
            {
                throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, "reading failed: the response has no x-goog-generation header.");
            }

            long length = response.StatusCode == HttpStatusCode.PartialContent
                ? ContentRange.TotalLength(response.Content.Headers.ContentRange?.ToString(), -1)
                : StoredLength(response);
            if (length < 0)
            {
                throw new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, "reading failed: the response does not tell the object's length.");
            }

            DateTimeOffset modified = response.Content.Headers.LastModified ?? response.Headers.Date ?? DateTimeOffset.UtcNow;
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var content = new TranslatingReadStream(body, Math.Max(0, length - offset), ex => ex is IOException or HttpRequestException, translate, response);
            return OffsetRead.Attempt.Found(new StoreReadResult(content, new StoreObjectInfo(key, length, new StoreVersion(generation!), modified), offset));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends a <c>multipart</c> upload of <paramref name="metadata"/> and the content <paramref name="body"/> opens (a
    /// new stream per attempt, positioned at its start) to <paramref name="uri"/>; returns the object written.
    /// </summary>
    public static async Task<Object> UploadAsync(StorageClient client, Uri uri, Object metadata, Func<Stream> body, CancellationToken cancellationToken)
    {
        using var json = new StringContent(client.Service.Serializer.Serialize(metadata), System.Text.Encoding.UTF8, "application/json");
        using var media = new StreamContent(body());
        media.Headers.ContentType = new MediaTypeHeaderValue(OctetStream);
        using var content = new MultipartContent("related", "ipc_" + Guid.NewGuid().ToString("N")) { json, media };
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        using HttpResponseMessage response = await client.Service.HttpClient.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(client, response).ConfigureAwait(false);
        }

        Stream stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return client.Service.Serializer.Deserialize<Object>(stream);
        }
    }

    private static long StoredLength(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-goog-stored-content-length", out IEnumerable<string>? values)
        && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out long stored)
            ? stored
            : response.Content.Headers.ContentLength ?? -1;

    /// <summary>Reads the error of a failed response as the client library does for its own calls.</summary>
    private static async Task<GoogleApiException> ErrorAsync(StorageClient client, HttpResponseMessage response)
    {
        Google.Apis.Requests.RequestError error = await client.Service.DeserializeError(response).ConfigureAwait(false);
        return new GoogleApiException(client.Service.Name, error?.Message ?? response.ReasonPhrase ?? response.StatusCode.ToString())
        {
            HttpStatusCode = response.StatusCode,
            Error = error,
        };
    }
}
