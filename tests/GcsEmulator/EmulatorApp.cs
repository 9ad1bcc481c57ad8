using System.Text.Json;
using GcsEmulator.Api;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GcsEmulator;

/// <summary>Wires the middleware and endpoints onto a <see cref="WebApplication"/>.</summary>
internal static class EmulatorApp
{
    public const string ControlPrefix = "/_emulator";

    public static void Map(WebApplication app, EmulatorState state)
    {
        app.Use(next => context => HandleExceptionsAsync(context, next));
        app.Use(next => context => InjectFaultsAsync(context, next, state.Faults));

        var buckets = new BucketApi(state);
        var objects = new ObjectApi(state);
        var uploads = new UploadApi(state);

        app.MapPost("/storage/v1/b", new RequestDelegate(buckets.InsertAsync));
        app.MapGet("/storage/v1/b", new RequestDelegate(buckets.ListAsync));
        app.MapGet("/storage/v1/b/{bucket}", new RequestDelegate(buckets.GetAsync));
        app.MapDelete("/storage/v1/b/{bucket}", new RequestDelegate(buckets.DeleteAsync));

        app.MapGet("/storage/v1/b/{bucket}/o", new RequestDelegate(objects.ListAsync));
        app.MapPost("/storage/v1/b/{bucket}/o", new RequestDelegate(uploads.InsertWithoutMediaAsync));
        app.MapGet("/storage/v1/b/{bucket}/o/{**object}", new RequestDelegate(objects.GetAsync));
        app.MapDelete("/storage/v1/b/{bucket}/o/{**object}", new RequestDelegate(objects.DeleteAsync));
        app.MapPatch("/storage/v1/b/{bucket}/o/{**object}", new RequestDelegate(objects.PatchAsync));
        app.MapGet("/download/storage/v1/b/{bucket}/o/{**object}", new RequestDelegate(objects.DownloadAsync));
        app.MapPost("/storage/v1/b/{bucket}/o/{**object}", new RequestDelegate(new CopyApi(state).PostAsync));

        app.MapPost("/upload/storage/v1/b/{bucket}/o", new RequestDelegate(uploads.PostAsync));
        app.MapPut("/upload/storage/v1/b/{bucket}/o", new RequestDelegate(uploads.PutAsync));
        app.MapDelete("/upload/storage/v1/b/{bucket}/o", new RequestDelegate(uploads.DeleteAsync));

        app.MapPost(ControlPrefix + "/faults", new RequestDelegate(context => AddFaultsAsync(context, state)));
        app.MapGet(ControlPrefix + "/faults", new RequestDelegate(context => ListFaultsAsync(context, state)));
        app.MapDelete(ControlPrefix + "/faults", new RequestDelegate(context =>
        {
            state.Faults.Clear();
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }));
        app.MapPost(ControlPrefix + "/reset", new RequestDelegate(context =>
        {
            state.Reset();
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }));
        app.MapGet(ControlPrefix + "/health", new RequestDelegate(context =>
        {
            context.Response.ContentType = "text/plain";
            return context.Response.WriteAsync("ok", context.RequestAborted);
        }));

        app.MapFallback(new RequestDelegate(context =>
            GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status404NotFound, "notFound", "Not Found"))));
    }

    /// <summary>Turns unexpected exceptions into a JSON 500 and swallows the ones caused by a client going away.</summary>
    private static async Task HandleExceptionsAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client disconnected; there is nobody to answer.
        }
        catch (Exception ex) when (!context.Response.HasStarted && ex is InvalidDataException or BadHttpRequestException)
        {
            context.Response.Clear();
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid request: {ex.Message}"));
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await GcsJson.WriteErrorAsync(context, new EmulatorError(StatusCodes.Status500InternalServerError, "internalError",
                $"Emulator error: {ex.GetType().Name}: {ex.Message}"));
        }
    }

    private static async Task InjectFaultsAsync(HttpContext context, RequestDelegate next, FaultInjector faults)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (path.StartsWith(ControlPrefix, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }
        var fault = faults.TryTake(context.Request.Method, path, context.Request.QueryString.Value ?? string.Empty);
        if (fault is null)
        {
            await next(context);
            return;
        }

        if (fault.AfterProcessing)
        {
            // Let the request take effect, then throw its response away.
            var originalBody = context.Features.Get<IHttpResponseBodyFeature>()!;
            using var discarded = new MemoryStream();
            context.Response.Body = discarded;
            try
            {
                await next(context);
            }
            finally
            {
                context.Features.Set(originalBody);
            }
            context.Response.Clear();
        }

        if (fault.DelayMs > 0)
        {
            await Task.Delay(fault.DelayMs, context.RequestAborted);
        }
        if (fault.Abort)
        {
            context.Abort();
            return;
        }
        if (fault.RetryAfterSeconds is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var (reason, message) = fault.Status switch
        {
            429 => ("rateLimitExceeded", "The rate of change requests to the object is too high."),
            500 => ("internalError", "We encountered an internal error. Please try again."),
            502 => ("badGateway", "Bad Gateway"),
            503 => ("backendError", "Service Unavailable"),
            504 => ("gatewayTimeout", "Gateway Timeout"),
            408 => ("requestTimeout", "Request Timeout"),
            _ => ("injectedFault", "Injected fault"),
        };
        await GcsJson.WriteErrorAsync(context, new EmulatorError(fault.Status, reason, fault.Message ?? message));
    }

    private static async Task AddFaultsAsync(HttpContext context, EmulatorState state)
    {
        var body = await RequestHelpers.ReadJsonBodyAsync(context);
        var added = new List<EmulatorFault>();
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Array)
            {
                added.AddRange(document.RootElement.EnumerateArray().Select(EmulatorFault.Parse));
            }
            else
            {
                added.Add(EmulatorFault.Parse(document.RootElement));
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            await GcsJson.WriteErrorAsync(context, EmulatorError.Invalid($"Invalid fault: {ex.Message}"));
            return;
        }
        foreach (var fault in added)
        {
            state.Faults.Add(fault);
        }
        await ListFaultsAsync(context, state);
    }

    private static Task ListFaultsAsync(HttpContext context, EmulatorState state) =>
        GcsJson.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("faults");
            w.WriteStartArray();
            foreach (var (fault, remaining) in state.Faults.Snapshot())
            {
                fault.WriteTo(w, remaining);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
}
