using System.IO.Compression;
using System.Text;
using System.Text.Json;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GcsEmulator;

/// <summary>Parsing helpers shared by the endpoint handlers.</summary>
internal static class RequestHelpers
{
    private const int MaxJsonBodyBytes = 16 * 1024 * 1024;

    public static string BucketFromRoute(HttpContext context) =>
        context.Request.RouteValues["bucket"] as string ?? string.Empty;

    /// <summary>
    /// The object name exactly as the client encoded it: taken from the raw request target, because
    /// the decoded path keeps <c>%2F</c> encoded and has already turned other escapes into characters.
    /// </summary>
    public static string ObjectNameFromPath(HttpContext context) => Uri.UnescapeDataString(RawPathAfterObjects(context));

    /// <summary>The still-encoded part of the request path after <c>/b/{bucket}/o/</c>.</summary>
    public static string RawPathAfterObjects(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            raw = context.Request.PathBase + context.Request.Path;
        }
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            raw = raw[..query];
        }
        var bucketStart = raw.IndexOf("/b/", StringComparison.Ordinal);
        if (bucketStart >= 0)
        {
            var bucketEnd = raw.IndexOf('/', bucketStart + 3);
            if (bucketEnd >= 0 && string.CompareOrdinal(raw, bucketEnd, "/o/", 0, 3) == 0)
            {
                return raw[(bucketEnd + 3)..];
            }
        }
        return context.Request.RouteValues["object"] as string ?? string.Empty;
    }

    public static string? Query(HttpContext context, string name)
    {
        var values = context.Request.Query[name];
        return values.Count == 0 || string.IsNullOrEmpty(values[0]) ? null : values[0];
    }

    /// <summary>Cloud Storage's object name rules.</summary>
    public static EmulatorError? ValidateObjectName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return EmulatorError.Required();
        }
        var bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > 1024)
        {
            return EmulatorError.Invalid($"The maximum object length is 1024 characters, but got a name with {bytes} characters: ''{name[..Math.Min(name.Length, 64)]}...''");
        }
        if (name is "." or ".." || name.Contains('\r', StringComparison.Ordinal) || name.Contains('\n', StringComparison.Ordinal))
        {
            return EmulatorError.Invalid($"Invalid object name: '{name}'");
        }
        return null;
    }

    /// <summary>Bucket names: 3-63 characters of lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit.</summary>
    public static bool IsValidBucketName(string name)
    {
        if (name.Length is < 3 or > 222 || !IsLowerAlphanumeric(name[0]) || !IsLowerAlphanumeric(name[^1]))
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!IsLowerAlphanumeric(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }
        return name.Split('.').All(part => part.Length is > 0 and <= 63)
            && (name.Contains('.', StringComparison.Ordinal) || name.Length <= 63);
    }

    private static bool IsLowerAlphanumeric(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);

    /// <summary>
    /// Reads a JSON request body, undoing <c>Content-Encoding: gzip</c> (Google's API clients gzip
    /// JSON request bodies by default).
    /// </summary>
    public static async Task<byte[]> ReadJsonBodyAsync(HttpContext context)
    {
        var encoding = context.Request.Headers.ContentEncoding.ToString().Trim();
        if (encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return await ReadSmallBodyAsync(context.Request.Body, context.RequestAborted);
        }
        if (encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            await using var gzip = new GZipStream(context.Request.Body, CompressionMode.Decompress, leaveOpen: true);
            return await ReadSmallBodyAsync(gzip, context.RequestAborted);
        }
        throw new InvalidDataException($"Unsupported Content-Encoding: {encoding}");
    }

    /// <summary>Reads a small (JSON) body completely.</summary>
    public static async Task<byte[]> ReadSmallBodyAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxJsonBodyBytes)
            {
                throw new InvalidDataException("The JSON body is too large.");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Parses object metadata JSON (insert / multipart / resumable initiation). Unknown properties are ignored.
    /// </summary>
    public static EmulatorError? ParseObjectMetadata(ReadOnlySpan<byte> json, ObjectMetadata metadata)
    {
        if (json.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return new EmulatorError(StatusCodes.Status400BadRequest, "parseError", "Parse Error");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return new EmulatorError(StatusCodes.Status400BadRequest, "parseError", "Parse Error");
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var value = property.Value;
                if (value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }
                if (property.Name == "metadata")
                {
                    if (value.ValueKind != JsonValueKind.Object)
                    {
                        return EmulatorError.Invalid("Invalid value for metadata.");
                    }
                    metadata.CustomMetadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var entry in value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind == JsonValueKind.String)
                        {
                            metadata.CustomMetadata[entry.Name] = entry.Value.GetString()!;
                        }
                        else if (entry.Value.ValueKind != JsonValueKind.Null)
                        {
                            metadata.CustomMetadata[entry.Name] = entry.Value.GetRawText();
                        }
                    }
                    continue;
                }
                var isStringField = property.Name is "name" or "contentType" or "contentEncoding" or "contentDisposition"
                    or "contentLanguage" or "cacheControl" or "storageClass" or "md5Hash" or "crc32c";
                if (!isStringField)
                {
                    continue;
                }
                if (value.ValueKind != JsonValueKind.String)
                {
                    return EmulatorError.Invalid($"Invalid value for {property.Name}.");
                }
                var text = value.GetString();
                switch (property.Name)
                {
                    case "name": metadata.Name = text; break;
                    case "contentType": metadata.ContentType = text; break;
                    case "contentEncoding": metadata.ContentEncoding = text; break;
                    case "contentDisposition": metadata.ContentDisposition = text; break;
                    case "contentLanguage": metadata.ContentLanguage = text; break;
                    case "cacheControl": metadata.CacheControl = text; break;
                    case "storageClass": metadata.StorageClass = text; break;
                    case "md5Hash": metadata.ExpectedMd5 = text; break;
                    case "crc32c": metadata.ExpectedCrc32C = text; break;
                }
            }
        }
        return null;
    }

    /// <summary>Adds <c>x-goog-meta-*</c> request headers to the custom metadata.</summary>
    public static void AddMetaHeaders(HttpContext context, ObjectMetadata metadata)
    {
        const string prefix = "x-goog-meta-";
        foreach (var header in context.Request.Headers)
        {
            if (header.Key.Length > prefix.Length && header.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                metadata.CustomMetadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
                metadata.CustomMetadata[header.Key[prefix.Length..]] = header.Value.ToString();
            }
        }
    }

    /// <summary>True for the exceptions a request body read throws when the client goes away or sends a truncated body.</summary>
    public static bool IsBodyReadFailure(Exception exception) =>
        exception is IOException or OperationCanceledException or InvalidDataException;
}
