using System.Globalization;
using System.Text.Json;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace GcsEmulator.Api;

/// <summary>objects.get (metadata and media) / list / delete / patch.</summary>
internal sealed class ObjectApi(EmulatorState state)
{
    public Task GetAsync(HttpContext context)
    {
        var alt = RequestHelpers.Query(context, "alt") ?? "json";
        return alt switch
        {
            "json" => ReadAsync(context, media: false),
            "media" => ReadAsync(context, media: true),
            _ => GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid value for alt: {alt}")),
        };
    }

    /// <summary>The <c>/download/storage/v1/...</c> form used by mediaLink: always media.</summary>
    public Task DownloadAsync(HttpContext context)
    {
        var alt = RequestHelpers.Query(context, "alt") ?? "media";
        return alt == "media"
            ? ReadAsync(context, media: true)
            : GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid value for alt: {alt}"));
    }

    private async Task ReadAsync(HttpContext context, bool media)
    {
        var bucket = RequestHelpers.BucketFromRoute(context);
        var name = RequestHelpers.ObjectNameFromPath(context);
        if (!Preconditions.TryParseInt64(context.Request.Query, "generation", out var generation, out var error)
            || !Preconditions.TryParse(context.Request.Query, out var preconditions, out error))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(error!));
            return;
        }

        switch (state.GetObject(bucket, name, generation, out var found))
        {
            case StoreStatus.BucketNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                return;
            case StoreStatus.ObjectNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.ObjectNotFound(bucket, name));
                return;
        }

        var stored = found!;
        switch (preconditions.Evaluate(stored, isRead: true))
        {
            case PreconditionOutcome.Failed:
                await GcsJson.WriteErrorAsync(context, EmulatorError.PreconditionFailed());
                return;
            case PreconditionOutcome.NotModified:
                context.Response.StatusCode = StatusCodes.Status304NotModified;
                return;
        }

        if (!media)
        {
            var baseUrl = GcsJson.BaseUrl(context);
            await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteObject(w, stored, baseUrl));
            return;
        }
        await WriteMediaAsync(context, stored);
    }

    private static async Task WriteMediaAsync(HttpContext context, StoredObject stored)
    {
        var response = context.Response;
        var headers = response.Headers;
        var size = stored.Size;
        headers["x-goog-generation"] = GcsJson.Int64(stored.Generation);
        headers["x-goog-metageneration"] = GcsJson.Int64(stored.Metageneration);
        headers["x-goog-stored-content-length"] = GcsJson.Int64(size);
        headers["x-goog-stored-content-encoding"] = stored.ContentEncoding ?? "identity";
        headers["x-goog-storage-class"] = stored.StorageClass;
        headers.ETag = $"\"{GcsJson.ObjectEtag(stored)}\"";
        headers.LastModified = stored.Updated.ToString("R", CultureInfo.InvariantCulture);
        headers.AcceptRanges = "bytes";
        headers.CacheControl = stored.CacheControl ?? "no-cache, no-store, max-age=0, must-revalidate";
        if (stored.ContentDisposition is not null)
        {
            headers.ContentDisposition = stored.ContentDisposition;
        }
        if (stored.ContentLanguage is not null)
        {
            headers.ContentLanguage = stored.ContentLanguage;
        }
        if (stored.ContentEncoding is not null)
        {
            headers.ContentEncoding = stored.ContentEncoding;
        }

        long offset = 0, length = size;
        var range = ParseRange(context.Request.Headers.Range.ToString(), size);
        if (range.Kind == RangeKind.Unsatisfiable)
        {
            headers.ContentRange = $"bytes */{size}";
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status416RangeNotSatisfiable,
                "requestedRangeNotSatisfiable", "The requested range cannot be satisfied."));
            return;
        }
        if (range.Kind == RangeKind.Satisfiable)
        {
            offset = range.First;
            length = range.Last - range.First + 1;
            response.StatusCode = StatusCodes.Status206PartialContent;
            headers.ContentRange = $"bytes {range.First}-{range.Last}/{size}";
        }
        else
        {
            response.StatusCode = StatusCodes.Status200OK;
            // The whole object's hashes, in two header lines, as Cloud Storage sends them. Only on a whole response:
            // Cloud Storage omits them from a 206 (they would not match the bytes sent), and clients that check
            // them (Google.Cloud.Storage.V1's default DownloadValidationMode) fail a ranged download that gets them.
            headers["x-goog-hash"] = new StringValues([$"crc32c={GcsJson.Crc32CBase64(stored)}", $"md5={GcsJson.Md5Base64(stored)}"]);
        }

        response.ContentType = stored.ContentType;
        response.ContentLength = length;
        await stored.Content!.CopyToAsync(response.Body, offset, length, context.RequestAborted);
    }

    internal enum RangeKind
    {
        None,
        Satisfiable,
        Unsatisfiable,
    }

    /// <summary>
    /// Parses a single byte range (<c>bytes=a-b</c>, <c>bytes=a-</c>, <c>bytes=-n</c>). Malformed or
    /// multi-range headers are ignored (the whole object is returned), as HTTP allows.
    /// </summary>
    internal static (RangeKind Kind, long First, long Last) ParseRange(string header, long size)
    {
        const string unit = "bytes=";
        if (string.IsNullOrWhiteSpace(header))
        {
            return (RangeKind.None, 0, 0);
        }
        header = header.Trim();
        if (!header.StartsWith(unit, StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return (RangeKind.None, 0, 0);
        }
        var spec = header[unit.Length..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return (RangeKind.None, 0, 0);
        }
        var firstText = spec[..dash].Trim();
        var lastText = spec[(dash + 1)..].Trim();
        const NumberStyles digits = NumberStyles.None;
        if (firstText.Length == 0)
        {
            // Suffix range: the last n bytes.
            if (!long.TryParse(lastText, digits, CultureInfo.InvariantCulture, out var suffix))
            {
                return (RangeKind.None, 0, 0);
            }
            if (suffix == 0 || size == 0)
            {
                return (RangeKind.Unsatisfiable, 0, 0);
            }
            return (RangeKind.Satisfiable, Math.Max(0, size - suffix), size - 1);
        }
        if (!long.TryParse(firstText, digits, CultureInfo.InvariantCulture, out var first))
        {
            return (RangeKind.None, 0, 0);
        }
        var last = long.MaxValue;
        if (lastText.Length > 0)
        {
            if (!long.TryParse(lastText, digits, CultureInfo.InvariantCulture, out last) || last < first)
            {
                return (RangeKind.None, 0, 0);
            }
        }
        if (first >= size)
        {
            return (RangeKind.Unsatisfiable, 0, 0);
        }
        return (RangeKind.Satisfiable, first, Math.Min(last, size - 1));
    }

    public async Task ListAsync(HttpContext context)
    {
        var bucket = RequestHelpers.BucketFromRoute(context);
        var maxResults = 1000;
        if (RequestHelpers.Query(context, "maxResults") is { } maxText)
        {
            if (!int.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out maxResults))
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid value for maxResults: {maxText}"));
                return;
            }
            maxResults = maxResults is 0 or > 1000 ? 1000 : maxResults;
        }

        PageToken? resume = null;
        if (RequestHelpers.Query(context, "pageToken") is { } token)
        {
            resume = PageToken.TryDecode(token);
            if (resume is null)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid("Invalid pageToken."));
                return;
            }
        }
        if (RequestHelpers.Query(context, "matchGlob") is not null)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid("matchGlob is not supported by the emulator."));
            return;
        }

        var includeTrailing = string.Equals(RequestHelpers.Query(context, "includeTrailingDelimiter"), "true", StringComparison.OrdinalIgnoreCase);
        var query = new ListQuery(
            RequestHelpers.Query(context, "prefix") ?? string.Empty,
            RequestHelpers.Query(context, "delimiter"),
            RequestHelpers.Query(context, "startOffset"),
            RequestHelpers.Query(context, "endOffset"),
            includeTrailing,
            maxResults,
            resume);

        if (state.ListObjects(bucket, query, out var result) == StoreStatus.BucketNotFound)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
            return;
        }

        var baseUrl = GcsJson.BaseUrl(context);
        await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "storage#objects");
            if (result!.NextPageToken is not null)
            {
                w.WriteString("nextPageToken", result.NextPageToken);
            }
            if (result.Prefixes.Count > 0)
            {
                w.WritePropertyName("prefixes");
                w.WriteStartArray();
                foreach (var prefix in result.Prefixes)
                {
                    w.WriteStringValue(prefix);
                }
                w.WriteEndArray();
            }
            if (result.Items.Count > 0)
            {
                w.WritePropertyName("items");
                w.WriteStartArray();
                foreach (var item in result.Items)
                {
                    GcsJson.WriteObject(w, item, baseUrl);
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });
    }

    public async Task DeleteAsync(HttpContext context)
    {
        var bucket = RequestHelpers.BucketFromRoute(context);
        var name = RequestHelpers.ObjectNameFromPath(context);
        if (!Preconditions.TryParseInt64(context.Request.Query, "generation", out var generation, out var error)
            || !Preconditions.TryParse(context.Request.Query, out var preconditions, out error))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(error!));
            return;
        }

        switch (state.DeleteObject(bucket, name, generation, preconditions))
        {
            case StoreStatus.BucketNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                break;
            case StoreStatus.ObjectNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.ObjectNotFound(bucket, name));
                break;
            case StoreStatus.PreconditionFailed:
                await GcsJson.WriteErrorAsync(context, EmulatorError.PreconditionFailed());
                break;
            default:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
        }
    }

    /// <summary>objects.patch: updates user metadata and bumps the metageneration.</summary>
    public async Task PatchAsync(HttpContext context)
    {
        var bucket = RequestHelpers.BucketFromRoute(context);
        var name = RequestHelpers.ObjectNameFromPath(context);
        if (!Preconditions.TryParseInt64(context.Request.Query, "generation", out var generation, out var error)
            || !Preconditions.TryParse(context.Request.Query, out var preconditions, out error))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(error!));
            return;
        }

        var body = await RequestHelpers.ReadJsonBodyAsync(context);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status400BadRequest, "parseError", "Parse Error"));
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status400BadRequest, "parseError", "Parse Error"));
                return;
            }
            var patch = document.RootElement;
            var status = state.PatchObject(bucket, name, generation, preconditions, current => ApplyPatch(current, patch), out var patched);
            switch (status)
            {
                case StoreStatus.BucketNotFound:
                    await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                    return;
                case StoreStatus.ObjectNotFound:
                    await GcsJson.WriteErrorAsync(context, EmulatorError.ObjectNotFound(bucket, name));
                    return;
                case StoreStatus.PreconditionFailed:
                    await GcsJson.WriteErrorAsync(context, EmulatorError.PreconditionFailed());
                    return;
            }
            var baseUrl = GcsJson.BaseUrl(context);
            await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteObject(w, patched!, baseUrl));
        }
    }

    private static StoredObject ApplyPatch(StoredObject current, JsonElement patch)
    {
        string? Text(string property, string? existing) =>
            patch.TryGetProperty(property, out var value)
                ? value.ValueKind == JsonValueKind.String ? value.GetString() : null
                : existing;

        Dictionary<string, string>? custom = current.CustomMetadata is null
            ? null
            : new Dictionary<string, string>(current.CustomMetadata, StringComparer.Ordinal);
        if (patch.TryGetProperty("metadata", out var metadata))
        {
            if (metadata.ValueKind == JsonValueKind.Object)
            {
                custom ??= new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var entry in metadata.EnumerateObject())
                {
                    if (entry.Value.ValueKind == JsonValueKind.Null)
                    {
                        custom.Remove(entry.Name);
                    }
                    else
                    {
                        custom[entry.Name] = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
                    }
                }
            }
            else if (metadata.ValueKind == JsonValueKind.Null)
            {
                custom = null;
            }
        }

        return new StoredObject
        {
            Bucket = current.Bucket,
            Name = current.Name,
            Generation = current.Generation,
            Metageneration = current.Metageneration + 1,
            ContentType = Text("contentType", current.ContentType) ?? "application/octet-stream",
            ContentEncoding = Text("contentEncoding", current.ContentEncoding),
            ContentDisposition = Text("contentDisposition", current.ContentDisposition),
            ContentLanguage = Text("contentLanguage", current.ContentLanguage),
            CacheControl = Text("cacheControl", current.CacheControl),
            StorageClass = current.StorageClass,
            CustomMetadata = custom is { Count: > 0 } ? custom : null,
            Size = current.Size,
            Md5 = current.Md5,
            Crc32C = current.Crc32C,
            TimeCreated = current.TimeCreated,
            Updated = DateTimeOffset.UtcNow,
            Content = current.Content,
        };
    }
}
