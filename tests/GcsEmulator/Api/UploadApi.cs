using System.Globalization;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace GcsEmulator.Api;

/// <summary>objects.insert through <c>/upload/storage/v1/b/{bucket}/o</c>: media, multipart and resumable uploads.</summary>
internal sealed class UploadApi(EmulatorState state)
{
    /// <summary>HTTP 308 "Resume Incomplete" as used by the resumable protocol.</summary>
    private const int ResumeIncomplete = 308;

    /// <summary>HTTP 499 "Client Closed Request", the documented answer to cancelling a resumable upload.</summary>
    private const int ClientClosedRequest = 499;

    public async Task PostAsync(HttpContext context)
    {
        if (!Preconditions.TryParse(context.Request.Query, out var preconditions, out var error))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(error!));
            return;
        }

        var uploadType = RequestHelpers.Query(context, "uploadType");
        switch (uploadType)
        {
            case "media":
                await MediaAsync(context, preconditions);
                break;
            case "multipart":
                await MultipartAsync(context, preconditions);
                break;
            case "resumable":
                await InitiateResumableAsync(context, preconditions);
                break;
            case null:
                await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status400BadRequest, "wrongUrlForUpload",
                    "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/"));
                break;
            default:
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid upload type: {uploadType}"));
                break;
        }
    }

    /// <summary><c>POST /storage/v1/b/{bucket}/o</c> without media: creates an empty object from JSON metadata.</summary>
    public async Task InsertWithoutMediaAsync(HttpContext context)
    {
        if (!Preconditions.TryParse(context.Request.Query, out var preconditions, out var error))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(error!));
            return;
        }
        var metadata = new ObjectMetadata();
        var body = await RequestHelpers.ReadJsonBodyAsync(context);
        if (RequestHelpers.ParseObjectMetadata(body, metadata) is { } parseError)
        {
            await GcsJson.WriteErrorAsync(context, parseError);
            return;
        }
        metadata.Name = RequestHelpers.Query(context, "name") ?? metadata.Name;
        if (RequestHelpers.ValidateObjectName(metadata.Name) is { } nameError)
        {
            await GcsJson.WriteErrorAsync(context, nameError);
            return;
        }
        await CommitAndRespondAsync(context, RequestHelpers.BucketFromRoute(context), metadata, new SegmentedBuffer(), preconditions, session: null);
    }

    private async Task MediaAsync(HttpContext context, Preconditions preconditions)
    {
        var metadata = new ObjectMetadata
        {
            Name = RequestHelpers.Query(context, "name"),
            ContentType = context.Request.ContentType,
            ContentEncoding = RequestHelpers.Query(context, "contentEncoding"),
        };
        if (RequestHelpers.ValidateObjectName(metadata.Name) is { } nameError)
        {
            await GcsJson.WriteErrorAsync(context, nameError);
            return;
        }
        RequestHelpers.AddMetaHeaders(context, metadata);

        var content = new SegmentedBuffer();
        try
        {
            await content.AppendFromAsync(context.Request.Body, context.Request.ContentLength, null, context.RequestAborted);
        }
        catch (Exception ex) when (RequestHelpers.IsBodyReadFailure(ex))
        {
            await RespondToBrokenBodyAsync(context);
            return;
        }
        await CommitAndRespondAsync(context, RequestHelpers.BucketFromRoute(context), metadata, content, preconditions, session: null);
    }

    private async Task MultipartAsync(HttpContext context, Preconditions preconditions)
    {
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/related", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 } boundary)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                "Multipart uploads require a Content-Type of multipart/related with a boundary."));
            return;
        }

        var metadata = new ObjectMetadata();
        var content = new SegmentedBuffer();
        try
        {
            var reader = new MultipartReader(boundary, context.Request.Body) { BodyLengthLimit = null };
            var metadataSection = await reader.ReadNextSectionAsync(context.RequestAborted);
            var mediaSection = metadataSection is null ? null : await ReadMetadataThenNextAsync(reader, metadataSection, metadata, context.RequestAborted);
            if (mediaSection is null)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    "A multipart upload must have a metadata part followed by a media part."));
                return;
            }
            if (metadata.ContentType is null && !string.IsNullOrEmpty(mediaSection.ContentType))
            {
                metadata.ContentType = mediaSection.ContentType;
            }
            await content.AppendFromAsync(mediaSection.Body, null, null, context.RequestAborted);
            // Consume the closing boundary so a truncated body is detected.
            if (await reader.ReadNextSectionAsync(context.RequestAborted) is not null)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid("A multipart upload must have exactly two parts."));
                return;
            }
        }
        catch (MetadataException ex)
        {
            await GcsJson.WriteErrorAsync(context, ex.Error);
            return;
        }
        catch (Exception ex) when (RequestHelpers.IsBodyReadFailure(ex))
        {
            await RespondToBrokenBodyAsync(context);
            return;
        }

        metadata.Name = RequestHelpers.Query(context, "name") ?? metadata.Name;
        if (RequestHelpers.ValidateObjectName(metadata.Name) is { } nameError)
        {
            await GcsJson.WriteErrorAsync(context, nameError);
            return;
        }
        if (RequestHelpers.Query(context, "contentEncoding") is { } contentEncoding)
        {
            metadata.ContentEncoding = contentEncoding;
        }
        RequestHelpers.AddMetaHeaders(context, metadata);
        await CommitAndRespondAsync(context, RequestHelpers.BucketFromRoute(context), metadata, content, preconditions, session: null);
    }

    private static async Task<MultipartSection?> ReadMetadataThenNextAsync(
        MultipartReader reader, MultipartSection metadataSection, ObjectMetadata metadata, CancellationToken cancellationToken)
    {
        var json = await RequestHelpers.ReadSmallBodyAsync(metadataSection.Body, cancellationToken);
        if (RequestHelpers.ParseObjectMetadata(json, metadata) is { } error)
        {
            throw new MetadataException(error);
        }
        return await reader.ReadNextSectionAsync(cancellationToken);
    }

    private async Task InitiateResumableAsync(HttpContext context, Preconditions preconditions)
    {
        var bucket = RequestHelpers.BucketFromRoute(context);
        var metadata = new ObjectMetadata();
        var body = await RequestHelpers.ReadJsonBodyAsync(context);
        if (RequestHelpers.ParseObjectMetadata(body, metadata) is { } parseError)
        {
            await GcsJson.WriteErrorAsync(context, parseError);
            return;
        }
        metadata.Name = RequestHelpers.Query(context, "name") ?? metadata.Name;
        if (RequestHelpers.ValidateObjectName(metadata.Name) is { } nameError)
        {
            await GcsJson.WriteErrorAsync(context, nameError);
            return;
        }
        if (metadata.ContentType is null && context.Request.Headers["X-Upload-Content-Type"].ToString() is { Length: > 0 } uploadContentType)
        {
            metadata.ContentType = uploadContentType;
        }
        if (RequestHelpers.Query(context, "contentEncoding") is { } contentEncoding)
        {
            metadata.ContentEncoding = contentEncoding;
        }
        RequestHelpers.AddMetaHeaders(context, metadata);

        long? declaredLength = null;
        if (context.Request.Headers["X-Upload-Content-Length"].ToString() is { Length: > 0 } lengthText)
        {
            if (!long.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsedLength))
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid X-Upload-Content-Length: {lengthText}"));
                return;
            }
            declaredLength = parsedLength;
        }

        // Preconditions are checked when the session starts and again when the upload completes.
        switch (state.GetObject(bucket, metadata.Name!, generation: null, out var current))
        {
            case StoreStatus.BucketNotFound:
                await GcsJson.WriteErrorAsync(context, EmulatorError.BucketNotFound());
                return;
            default:
                if (!preconditions.AllowsWrite(current))
                {
                    await GcsJson.WriteErrorAsync(context, EmulatorError.PreconditionFailed());
                    return;
                }
                break;
        }

        var session = state.AddSession(bucket, metadata, preconditions, declaredLength);
        var location = $"{GcsJson.BaseUrl(context)}/upload/storage/v1/b/{Uri.EscapeDataString(bucket)}/o"
            + $"?uploadType=resumable&name={Uri.EscapeDataString(metadata.Name!)}&upload_id={session.Id}";
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers.Location = location;
        context.Response.Headers["X-GUploader-UploadID"] = session.Id;
        context.Response.ContentLength = 0;
    }

    /// <summary>PUT to a session URI: upload a chunk, finish the upload, or query its status.</summary>
    public async Task PutAsync(HttpContext context)
    {
        var session = FindSession(context);
        if (session is null)
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status404NotFound, "notFound", "No such upload session."));
            return;
        }

        await session.Gate.WaitAsync(context.RequestAborted);
        try
        {
            await PutLockedAsync(context, session);
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <summary>DELETE to a session URI cancels the upload (499).</summary>
    public async Task DeleteAsync(HttpContext context)
    {
        var session = FindSession(context);
        if (session is null)
        {
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status404NotFound, "notFound", "No such upload session."));
            return;
        }
        await session.Gate.WaitAsync(context.RequestAborted);
        try
        {
            state.RemoveSession(session.Id);
        }
        finally
        {
            session.Gate.Release();
        }
        context.Response.StatusCode = ClientClosedRequest;
        context.Response.ContentLength = 0;
    }

    private UploadSession? FindSession(HttpContext context)
    {
        var id = RequestHelpers.Query(context, "upload_id");
        var session = id is null ? null : state.GetSession(id);
        return session is not null && session.Bucket == RequestHelpers.BucketFromRoute(context) ? session : null;
    }

    private async Task PutLockedAsync(HttpContext context, UploadSession session)
    {
        switch (session.State)
        {
            case UploadState.Completed:
                var baseUrl = GcsJson.BaseUrl(context);
                await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteObject(w, session.Result!, baseUrl));
                return;
            case UploadState.Failed:
                await GcsJson.WriteErrorAsync(context, session.Failure!);
                return;
        }

        var buffer = session.Buffer;
        var received = buffer.Length;
        var rangeHeader = context.Request.Headers.ContentRange.ToString();
        ContentRange range;
        if (string.IsNullOrWhiteSpace(rangeHeader))
        {
            // No Content-Range: the body is the whole object.
            range = new ContentRange(IsStatusQuery: false, 0, -1, Total: null, WholeObject: true);
        }
        else if (!ContentRange.TryParse(rangeHeader, out range))
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Failed to parse Content-Range header: {rangeHeader}"));
            return;
        }

        if (range.Total is { } total)
        {
            if ((session.KnownTotal is { } knownTotal && knownTotal != total)
                || (session.DeclaredLength is { } declared && declared != total))
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    $"The total object size {total} in Content-Range does not match the size given earlier."));
                return;
            }
            if (total < received)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    $"The total object size {total} is smaller than the {received} byte(s) already uploaded."));
                return;
            }
        }

        if (range.IsStatusQuery)
        {
            if (range.Total is { } queryTotal && queryTotal == received)
            {
                await FinalizeAsync(context, session);
                return;
            }
            RespondIncomplete(context, received);
            return;
        }

        if (range.WholeObject)
        {
            buffer.Truncate(0);
            received = 0;
        }
        else
        {
            if (range.First > received)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    $"Invalid request. The upload offset {range.First} exceeds the {received} byte(s) already persisted."));
                return;
            }
            if (range.Total is { } t && range.Last >= t)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Content-Range {rangeHeader} extends past the object size."));
                return;
            }
            if (context.Request.ContentLength is { } contentLength && contentLength != range.Length)
            {
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    $"Content-Range {rangeHeader} describes {range.Length} byte(s) but the request has {contentLength}."));
                return;
            }
        }

        // Read the chunk; bytes the session already has (a retried chunk overlapping persisted data) are skipped.
        try
        {
            if (range.WholeObject)
            {
                await buffer.AppendFromAsync(context.Request.Body, context.Request.ContentLength, null, context.RequestAborted);
            }
            else
            {
                var skip = Math.Min(received - range.First, range.Length);
                await SkipAsync(context.Request.Body, skip, context.RequestAborted);
                var expected = range.Length - skip;
                var appended = await buffer.AppendFromAsync(context.Request.Body, expected, expected, context.RequestAborted);
                var extra = await context.Request.Body.ReadAsync(new byte[1], context.RequestAborted);
                if (appended != expected || extra != 0)
                {
                    buffer.Truncate(received);
                    await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                        $"Content-Range {rangeHeader} does not match the number of bytes in the request body."));
                    return;
                }
            }
        }
        catch (Exception ex) when (RequestHelpers.IsBodyReadFailure(ex))
        {
            // An interrupted chunk persists nothing.
            buffer.Truncate(range.WholeObject ? 0 : received);
            await RespondToBrokenBodyAsync(context);
            return;
        }

        var finalTotal = range.WholeObject ? buffer.Length : range.Total;
        if (finalTotal is { } final)
        {
            if (session.DeclaredLength is { } declaredLength && declaredLength != final)
            {
                buffer.Truncate(received);
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    $"The object size {final} does not match X-Upload-Content-Length {declaredLength}."));
                return;
            }
            session.KnownTotal = final;
            if (buffer.Length == final)
            {
                await FinalizeAsync(context, session);
                return;
            }
        }

        // Intermediate chunk: Cloud Storage only persists whole multiples of the chunk granularity.
        var granularity = Math.Max(1, state.Options.ResumableChunkGranularity);
        if (granularity > 1)
        {
            if (range.Length < granularity)
            {
                buffer.Truncate(received);
                await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid(
                    $"Invalid request. The number of bytes uploaded is required to be equal or greater than {granularity}, "
                    + $"except for the final request (it's recommended to be the exact multiple of {granularity}). "
                    + $"The received request contained {range.Length} bytes, which does not meet this requirement."));
                return;
            }
            buffer.Truncate(buffer.Length - (buffer.Length % granularity));
        }
        RespondIncomplete(context, buffer.Length);
    }

    private static void RespondIncomplete(HttpContext context, long persisted)
    {
        context.Response.StatusCode = ResumeIncomplete;
        if (persisted > 0)
        {
            context.Response.Headers["Range"] = $"bytes=0-{persisted - 1}";
        }
        context.Response.ContentLength = 0;
    }

    private async Task FinalizeAsync(HttpContext context, UploadSession session)
    {
        var content = session.Buffer;
        await CommitAndRespondAsync(context, session.Bucket, session.Metadata, content, session.Preconditions, session);
    }

    /// <summary>Hashes and validates the content, then commits it under the preconditions and answers with the object resource.</summary>
    private async Task CommitAndRespondAsync(
        HttpContext context,
        string bucket,
        ObjectMetadata metadata,
        SegmentedBuffer content,
        Preconditions preconditions,
        UploadSession? session)
    {
        var (md5, crc) = content.ComputeHashes();
        EmulatorError? error = null;
        StoredObject? committed = null;
        if (metadata.ExpectedMd5 is { } expectedMd5 && expectedMd5 != Convert.ToBase64String(md5))
        {
            error = EmulatorError.Invalid(
                $"Provided MD5 hash \"{expectedMd5}\" doesn't match calculated MD5 hash \"{Convert.ToBase64String(md5)}\".");
        }
        else if (metadata.ExpectedCrc32C is { } expectedCrc
            && (!GcsJson.TryParseCrc32C(expectedCrc, out var expectedCrcValue) || expectedCrcValue != crc))
        {
            error = EmulatorError.Invalid(
                $"Provided CRC32C \"{expectedCrc}\" doesn't match calculated CRC32C \"{Crc32C.ToBase64(crc)}\".");
        }
        else
        {
            error = state.CommitObject(bucket, metadata, content, md5, crc, preconditions, out committed) switch
            {
                StoreStatus.BucketNotFound => EmulatorError.BucketNotFound(),
                StoreStatus.PreconditionFailed => EmulatorError.PreconditionFailed(),
                _ => null,
            };
        }

        if (error is not null)
        {
            session?.Fail(error);
            await GcsJson.WriteErrorAsync(context, error);
            return;
        }

        session?.Complete(committed!);
        var baseUrl = GcsJson.BaseUrl(context);
        await GcsJson.WriteAsync(context, StatusCodes.Status200OK, w => GcsJson.WriteObject(w, committed!, baseUrl));
    }

    private static async Task RespondToBrokenBodyAsync(HttpContext context)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return; // Nobody is listening; nothing was stored.
        }
        await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid("The request body was incomplete or malformed."));
    }

    private static async Task SkipAsync(Stream body, long count, CancellationToken cancellationToken)
    {
        if (count <= 0)
        {
            return;
        }
        var scratch = new byte[(int)Math.Min(count, 64 * 1024)];
        while (count > 0)
        {
            var read = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(count, scratch.Length)), cancellationToken);
            if (read == 0)
            {
                throw new IOException("The request body ended early.");
            }
            count -= read;
        }
    }

    private sealed class MetadataException(EmulatorError error) : Exception(error.Message)
    {
        public EmulatorError Error { get; } = error;
    }

    /// <summary>A parsed <c>Content-Range</c> request header.</summary>
    private readonly record struct ContentRange(bool IsStatusQuery, long First, long Last, long? Total, bool WholeObject = false)
    {
        public long Length => Last - First + 1;

        /// <summary>Parses <c>bytes a-b/total</c>, <c>bytes a-b/*</c>, <c>bytes */total</c> and <c>bytes */*</c>.</summary>
        public static bool TryParse(string header, out ContentRange range)
        {
            range = default;
            header = header.Trim();
            if (!header.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            var spec = header[6..].Trim();
            var slash = spec.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                return false;
            }
            var span = spec[..slash].Trim();
            var totalText = spec[(slash + 1)..].Trim();
            long? total = null;
            if (totalText != "*")
            {
                if (!long.TryParse(totalText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsedTotal))
                {
                    return false;
                }
                total = parsedTotal;
            }
            if (span == "*")
            {
                range = new ContentRange(IsStatusQuery: true, 0, -1, total);
                return true;
            }
            var dash = span.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0
                || !long.TryParse(span[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                || !long.TryParse(span[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
                || last < first)
            {
                return false;
            }
            range = new ContentRange(IsStatusQuery: false, first, last, total);
            return true;
        }
    }
}
