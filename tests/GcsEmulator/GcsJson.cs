using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace GcsEmulator;

/// <summary>An error in the JSON API's error format.</summary>
internal sealed record EmulatorError(int Status, string Reason, string Message, string? LocationType = null, string? Location = null)
{
    public static EmulatorError BucketNotFound() =>
        new(StatusCodes.Status404NotFound, "notFound", "The specified bucket does not exist.");

    public static EmulatorError ObjectNotFound(string bucket, string name) =>
        new(StatusCodes.Status404NotFound, "notFound", $"No such object: {bucket}/{name}");

    public static EmulatorError PreconditionFailed() =>
        new(StatusCodes.Status412PreconditionFailed, "conditionNotMet",
            "At least one of the pre-conditions you specified did not hold.", "header", "If-Match");

    public static EmulatorError Invalid(string message) => new(StatusCodes.Status400BadRequest, "invalid", message);

    public static EmulatorError Required(string message = "Required") => new(StatusCodes.Status400BadRequest, "required", message);
}

/// <summary>Serializes Cloud Storage resources and errors.</summary>
internal static class GcsJson
{
    public const string ContentType = "application/json; charset=UTF-8";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Timestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string Int64(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string BaseUrl(HttpContext context) =>
        $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}";

    /// <summary>The JSON API etag: a base64 protobuf-style encoding of generation and metageneration.</summary>
    public static string ObjectEtag(StoredObject o)
    {
        Span<byte> buffer = stackalloc byte[24];
        var length = 0;
        buffer[length++] = 0x08;
        length += WriteVarint(buffer[length..], (ulong)o.Generation);
        buffer[length++] = 0x10;
        length += WriteVarint(buffer[length..], (ulong)o.Metageneration);
        return Convert.ToBase64String(buffer[..length]);
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var count = 0;
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            destination[count++] = value == 0 ? b : (byte)(b | 0x80);
        }
        while (value != 0);
        return count;
    }

    public static string Md5Base64(StoredObject o) => Convert.ToBase64String(o.Md5);

    public static string Crc32CBase64(StoredObject o) => Crc32C.ToBase64(o.Crc32C);

    public static Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = buffer.Length;
        return context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).AsTask();
    }

    public static Task WriteErrorAsync(HttpContext context, EmulatorError error)
    {
        return WriteAsync(context, error.Status, w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("error");
            w.WriteStartObject();
            w.WriteNumber("code", error.Status);
            w.WriteString("message", error.Message);
            w.WritePropertyName("errors");
            w.WriteStartArray();
            w.WriteStartObject();
            w.WriteString("message", error.Message);
            w.WriteString("domain", "global");
            w.WriteString("reason", error.Reason);
            if (error.LocationType is not null)
            {
                w.WriteString("locationType", error.LocationType);
            }
            if (error.Location is not null)
            {
                w.WriteString("location", error.Location);
            }
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    public static void WriteObject(Utf8JsonWriter w, StoredObject o, string baseUrl)
    {
        var bucket = Uri.EscapeDataString(o.Bucket);
        var name = Uri.EscapeDataString(o.Name);
        var generation = Int64(o.Generation);
        w.WriteStartObject();
        w.WriteString("kind", "storage#object");
        w.WriteString("id", $"{o.Bucket}/{o.Name}/{generation}");
        w.WriteString("selfLink", $"{baseUrl}/storage/v1/b/{bucket}/o/{name}");
        w.WriteString("mediaLink", $"{baseUrl}/download/storage/v1/b/{bucket}/o/{name}?generation={generation}&alt=media");
        w.WriteString("name", o.Name);
        w.WriteString("bucket", o.Bucket);
        w.WriteString("generation", generation);
        w.WriteString("metageneration", Int64(o.Metageneration));
        w.WriteString("contentType", o.ContentType);
        w.WriteString("storageClass", o.StorageClass);
        w.WriteString("size", Int64(o.Size));
        w.WriteString("md5Hash", Md5Base64(o));
        w.WriteString("crc32c", Crc32CBase64(o));
        w.WriteString("etag", ObjectEtag(o));
        if (o.ContentEncoding is not null)
        {
            w.WriteString("contentEncoding", o.ContentEncoding);
        }
        if (o.ContentDisposition is not null)
        {
            w.WriteString("contentDisposition", o.ContentDisposition);
        }
        if (o.ContentLanguage is not null)
        {
            w.WriteString("contentLanguage", o.ContentLanguage);
        }
        if (o.CacheControl is not null)
        {
            w.WriteString("cacheControl", o.CacheControl);
        }
        if (o.CustomMetadata is { Count: > 0 } custom)
        {
            w.WritePropertyName("metadata");
            w.WriteStartObject();
            foreach (var (key, value) in custom.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WriteString(key, value);
            }
            w.WriteEndObject();
        }
        w.WriteString("timeCreated", Timestamp(o.TimeCreated));
        w.WriteString("updated", Timestamp(o.Updated));
        w.WriteString("timeStorageClassUpdated", Timestamp(o.TimeCreated));
        w.WriteString("timeFinalized", Timestamp(o.TimeCreated));
        w.WriteEndObject();
    }

    public static void WriteBucket(Utf8JsonWriter w, BucketEntry b, string baseUrl)
    {
        var created = Timestamp(b.TimeCreated);
        w.WriteStartObject();
        w.WriteString("kind", "storage#bucket");
        w.WriteString("selfLink", $"{baseUrl}/storage/v1/b/{Uri.EscapeDataString(b.Name)}");
        w.WriteString("id", b.Name);
        w.WriteString("name", b.Name);
        w.WriteString("projectNumber", b.ProjectNumber);
        w.WriteString("metageneration", "1");
        w.WriteString("location", b.Location);
        w.WriteString("locationType", b.Location.Contains('-', StringComparison.Ordinal) ? "region" : "multi-region");
        w.WriteString("storageClass", b.StorageClass);
        w.WriteString("etag", "CAE=");
        w.WriteString("timeCreated", created);
        w.WriteString("updated", created);
        w.WriteEndObject();
    }

    /// <summary>Reads the big-endian CRC-32C from its base64 form; false if malformed.</summary>
    public static bool TryParseCrc32C(string base64, out uint value)
    {
        value = 0;
        Span<byte> bytes = stackalloc byte[8];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != 4)
        {
            return false;
        }
        value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        return true;
    }
}
