using System.Net;
using GcsEmulator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GcsEmulator;

/// <summary>
/// An in-memory Cloud Storage JSON API server. Start one in-process with <see cref="StartAsync(int, CancellationToken)"/>
/// and point an HTTP client at <see cref="BaseUri"/>; dispose it to stop.
/// </summary>
public sealed class GcsEmulatorServer : IAsyncDisposable
{
    /// <summary>Address used by the standalone server when no <c>--urls</c> is given.</summary>
    public const string DefaultStandaloneUrl = "http://127.0.0.1:9023";

    private readonly WebApplication _app;
    private readonly EmulatorState _state;
    private int _disposed;

    private GcsEmulatorServer(WebApplication app, EmulatorState state, Uri baseUri)
    {
        _app = app;
        _state = state;
        BaseUri = baseUri;
    }

    /// <summary>Root of the emulator, e.g. <c>http://127.0.0.1:54321/</c>; API paths (<c>storage/v1/...</c>) are relative to it.</summary>
    public Uri BaseUri { get; }

    /// <summary>Starts an emulator on 127.0.0.1:<paramref name="port"/> (0 = a free port).</summary>
    public static Task<GcsEmulatorServer> StartAsync(int port = 0, CancellationToken cancellationToken = default) =>
        StartAsync(new GcsEmulatorOptions { Port = port }, cancellationToken);

    /// <summary>Starts an emulator on 127.0.0.1 with the given options.</summary>
    public static async Task<GcsEmulatorServer> StartAsync(GcsEmulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, IPEndPoint.MaxPort);

        var builder = CreateBuilder([]);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.Port));
        var (app, state) = Build(builder, options);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Urls.First();
        return new GcsEmulatorServer(app, state, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>
    /// Runs the emulator as a process: honours <c>--urls</c> (default <see cref="DefaultStandaloneUrl"/>),
    /// <c>--buckets a,b</c> and <c>--chunk-granularity N</c>, prints the listening URL(s) and runs until stopped.
    /// </summary>
    public static async Task<int> RunStandaloneAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var builder = CreateBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultStandaloneUrl);
        }

        var options = new GcsEmulatorOptions();
        var buckets = builder.Configuration["buckets"];
        if (!string.IsNullOrWhiteSpace(buckets))
        {
            foreach (var bucket in buckets.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                options.InitialBuckets.Add(bucket);
            }
        }
        var granularity = builder.Configuration.GetValue<int?>("chunk-granularity");
        if (granularity is { } value)
        {
            options.ResumableChunkGranularity = value;
        }

        var (app, _) = Build(builder, options);
        await using (app)
        {
            await app.StartAsync(cancellationToken);
            foreach (var url in app.Urls)
            {
                Console.WriteLine($"GcsEmulator listening on {url}");
            }
            await app.WaitForShutdownAsync(cancellationToken);
        }
        return 0;
    }

    /// <summary>Creates a bucket directly (project "emulator"); no-op if it exists.</summary>
    public void CreateBucket(string name, string project = "emulator")
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!RequestHelpers.IsValidBucketName(name))
        {
            throw new ArgumentException($"Invalid bucket name: '{name}'", nameof(name));
        }
        _state.CreateBucket(name, project, location: null, storageClass: null, out _);
    }

    /// <summary>Arms a fault (same semantics as <c>POST /_emulator/faults</c>).</summary>
    public void InjectFault(EmulatorFault fault) => _state.Faults.Add(fault);

    /// <summary>Removes all armed faults.</summary>
    public void ClearFaults() => _state.Faults.Clear();

    /// <summary>Drops all buckets, objects, upload sessions and faults.</summary>
    public void Reset() => _state.Reset();

    /// <summary>Returns the live content of an object, or null (test inspection helper).</summary>
    public byte[]? TryGetObjectContent(string bucket, string name) =>
        _state.GetObject(bucket, name, generation: null, out var found) == StoreStatus.Ok ? found!.Content!.ToArray() : null;

    /// <summary>Stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await _app.StopAsync(CancellationToken.None);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    private static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(GcsEmulatorServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Uploads may be large; the emulator never limits request bodies.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
        });
        return builder;
    }

    private static (WebApplication App, EmulatorState State) Build(WebApplicationBuilder builder, GcsEmulatorOptions options)
    {
        var app = builder.Build();
        var state = new EmulatorState(options);
        foreach (var bucket in options.InitialBuckets)
        {
            if (!RequestHelpers.IsValidBucketName(bucket))
            {
                throw new ArgumentException($"Invalid bucket name: '{bucket}'", nameof(options));
            }
            state.CreateBucket(bucket, "emulator", location: null, storageClass: null, out _);
        }
        EmulatorApp.Map(app, state);
        return (app, state);
    }
}
