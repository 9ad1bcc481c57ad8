using System.Globalization;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace GcsEmulator.Api;

/// <summary>
/// objects.rewrite (<c>.../o/{src}/rewriteTo/b/{dstBucket}/o/{dst}</c>) and objects.copy
/// (<c>.../o/{src}/copyTo/b/{dstBucket}/o/{dst}</c>). Content is immutable, so the destination
/// shares the source's bytes; a rewrite always completes in one call.
/// </summary>
internal sealed class CopyApi(EmulatorState state)
{
    public async Task PostAsync(HttpContext context)
    {
        var raw = RequestHelpers.RawPathAfterObjects(context);
        string verb;
        int at;
        if ((at = raw.IndexOf("/rewriteTo/b/", StringComparison.Ordinal)) > 0)
        {
            verb = "rewriteTo";
        }
        else if ((at = raw.IndexOf("/copyTo/b/", StringComparison.Ordinal)) > 0)
        {
            verb = "copyTo";
        }
        else
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status404NotFound, "notFound", "Not Found"));
            return;
        }

        var sourceBucket = RequestHelpers.BucketFromRoute(context);
        var sourceName = Uri.UnescapeDataString(raw[..at]);
        var destination = raw[(at + 1 + verb.Length + 3)..]; // skip "/{verb}/b/"
        var slashO = destination.IndexOf("/o/", StringComparison.Ordinal);
        if (slashO <= 0)
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status404NotFound, "notFound", "Not Found"));
            return;
        }
        var destinationBucket = Uri.UnescapeDataString(destination[..slashO]);
        var destinationName = Uri.UnescapeDataString(destination[(slashO + 3)..]);

        var query = context.Request.Query;
        if (!Preconditions.TryParse(query, out var destinationConditions, out var error)
            || !Preconditions.TryParse(query, out var sourceConditions, out error, prefix: "ifSource")
            || !Preconditions.TryParseInt64(query, "sourceGeneration", out var sourceGeneration, out error))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(error!));
            return;
        }
        if (RequestHelpers.ValidateObjectName(destinationName) is { } nameError)
        {
            await GcsJson.WriteErrorAsync(context, nameError);
            return;
        }

        var overrides = new ObjectMetadata();
        if (RequestHelpers.ParseObjectMetadata(await RequestHelpers.ReadJsonBodyAsync(context), overrides) is { } parseError)
        {
            await GcsJson.WriteErrorAsync(context, parseError);
            return;
        }

        switch (state.GetObject(sourceBucket, sourceName, sourceGeneration, out var source))
        {
            case StoreStatus.BucketNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                return;
            case StoreStatus.ObjectNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.ObjectNotFound(sourceBucket, sourceName));
                return;
        }
        if (sourceConditions.Evaluate(source!, isRead: false) != PreconditionOutcome.Satisfied)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.PreconditionFailed());
            return;
        }

        var metadata = new ObjectMetadata
        {
            Name = destinationName,
            ContentType = overrides.ContentType ?? source!.ContentType,
            ContentEncoding = overrides.ContentEncoding ?? source!.ContentEncoding,
            ContentDisposition = overrides.ContentDisposition ?? source!.ContentDisposition,
            ContentLanguage = overrides.ContentLanguage ?? source!.ContentLanguage,
            CacheControl = overrides.CacheControl ?? source!.CacheControl,
            StorageClass = overrides.StorageClass ?? source!.StorageClass,
            CustomMetadata = overrides.CustomMetadata
                ?? (source!.CustomMetadata is null ? null : new Dictionary<string, string>(source.CustomMetadata, StringComparer.Ordinal)),
        };

        var status = state.CommitObject(destinationBucket, metadata, source!.Content!, source.Md5, source.Crc32C, destinationConditions, out var committed);
        switch (status)
        {
            case StoreStatus.BucketNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                return;
            case StoreStatus.PreconditionFailed:
                await GcsJson.WriteErrorAsync(context, EmulatorError.PreconditionFailed());
                return;
        }

        var baseUrl = GcsJson.BaseUrl(context);
        if (verb == "copyTo")
        {
            await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteObject(w, committed!, baseUrl));
            return;
        }
        var size = committed!.Size.ToString(CultureInfo.InvariantCulture);
        await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "storage#rewriteResponse");
            w.WriteString("totalBytesRewritten", size);
            w.WriteString("objectSize", size);
            w.WriteBoolean("done", true);
            w.WritePropertyName("resource");
            GcsJson.WriteObject(w, committed, baseUrl);
            w.WriteEndObject();
        });
    }
}
