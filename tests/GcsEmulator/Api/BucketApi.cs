using System.Text.Json;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace GcsEmulator.Api;

/// <summary>buckets.insert / get / list / delete.</summary>
internal sealed class BucketApi(EmulatorState state)
{
    public async Task InsertAsync(HttpContext context)
    {
        var project = RequestHelpers.Query(context, "project");
        if (project is null)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Required("Required parameter: project"));
            return;
        }

        var body = await RequestHelpers.ReadJsonBodyAsync(context);
        string? name = null, location = null, storageClass = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException();
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    continue;
                }
                switch (property.Name)
                {
                    case "name": name = property.Value.GetString(); break;
                    case "location": location = property.Value.GetString(); break;
                    case "storageClass": storageClass = property.Value.GetString(); break;
                }
            }
        }
        catch (JsonException)
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status400BadRequest, "parseError", "Parse Error"));
            return;
        }

        if (string.IsNullOrEmpty(name))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Required());
            return;
        }
        if (!RequestHelpers.IsValidBucketName(name))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid bucket name: '{name}'"));
            return;
        }

        if (state.CreateBucket(name, project, location, storageClass, out var bucket) == StoreStatus.Conflict)
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status409Conflict, "conflict",
                "Your previous request to create the named bucket succeeded and you already own it."));
            return;
        }
        var baseUrl = GcsJson.BaseUrl(context);
        await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteBucket(w, bucket, baseUrl));
    }

    public async Task GetAsync(HttpContext context)
    {
        var bucket = state.GetBucket(RequestHelpers.BucketFromRoute(context));
        if (bucket is null)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
            return;
        }
        var baseUrl = GcsJson.BaseUrl(context);
        await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteBucket(w, bucket, baseUrl));
    }

    public async Task ListAsync(HttpContext context)
    {
        var project = RequestHelpers.Query(context, "project");
        if (project is null)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Required("Required parameter: project"));
            return;
        }
        var prefix = RequestHelpers.Query(context, "prefix") ?? string.Empty;
        var buckets = state.ListBuckets(project).Where(b => b.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        var baseUrl = GcsJson.BaseUrl(context);
        await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "storage#buckets");
            if (buckets.Count > 0)
            {
                w.WritePropertyName("items");
                w.WriteStartArray();
                foreach (var bucket in buckets)
                {
                    GcsJson.WriteBucket(w, bucket, baseUrl);
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });
    }

    public async Task DeleteAsync(HttpContext context)
    {
        switch (state.DeleteBucket(RequestHelpers.BucketFromRoute(context)))
        {
            case StoreStatus.BucketNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                break;
            case StoreStatus.Conflict:
                await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status409Conflict, "conflict",
                    "The bucket you tried to delete is not empty."));
                break;
            default:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
        }
    }
}
