using System.Text.Json.Serialization;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>The fields of a Cloud Storage object resource the store uses (int64 values are JSON strings).</summary>
internal sealed class GcsObjectResource
{
    public string? Name { get; set; }

    public string? Size { get; set; }

    public string? Generation { get; set; }

    public DateTimeOffset? Updated { get; set; }
}

/// <summary>A page of <c>objects.list</c>.</summary>
internal sealed class GcsObjectList
{
    public List<GcsObjectResource>? Items { get; set; }

    public string? NextPageToken { get; set; }
}

/// <summary>The metadata sent with a multipart upload or a resumable session.</summary>
internal sealed class GcsObjectInsert
{
    public string? Name { get; set; }

    public string? ContentType { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Md5Hash { get; set; }
}

/// <summary>The body of <c>buckets.insert</c>.</summary>
internal sealed class GcsBucketInsert
{
    public string? Name { get; set; }
}

/// <summary>A JSON API error response: <c>{"error":{"code":…,"message":…,"errors":[{"reason":…}]}}</c>.</summary>
internal sealed class GcsErrorResponse
{
    public GcsErrorBody? Error { get; set; }
}

/// <summary>The <c>error</c> member of <see cref="GcsErrorResponse"/>.</summary>
internal sealed class GcsErrorBody
{
    public int Code { get; set; }

    public string? Message { get; set; }

    public List<GcsErrorItem>? Errors { get; set; }
}

/// <summary>One entry of <see cref="GcsErrorBody.Errors"/>.</summary>
internal sealed class GcsErrorItem
{
    public string? Reason { get; set; }

    public string? Message { get; set; }
}

/// <summary>Source-generated JSON for the JSON API's resources (trimming and AOT safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(GcsObjectResource))]
[JsonSerializable(typeof(GcsObjectList))]
[JsonSerializable(typeof(GcsObjectInsert))]
[JsonSerializable(typeof(GcsBucketInsert))]
[JsonSerializable(typeof(GcsErrorResponse))]
internal sealed partial class GcsJsonContext : JsonSerializerContext;
