using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GcsEmulator;
using Google.Cloud.Storage.V1;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>The test classes that share one GCS emulator (run one after another, so its fault hook affects one test at a time).</summary>
[CollectionDefinition(Name)]
public sealed class GcsEmulatorGroup : ICollectionFixture<GcsEmulatorFixture>
{
    public const string Name = "GCS emulator";
}

/// <summary>
/// The repository's GCS JSON API emulator, started in-process on a free 127.0.0.1 port, or the already-running one
/// that <c>IPC_TEST_GCS_ENDPOINT</c> names. It hands out buckets (one per test class, unique per run), reaches the
/// emulator's fault hook over HTTP (so both modes work), and deletes every bucket it created at the end.
/// </summary>
public sealed class GcsEmulatorFixture : IAsyncLifetime
{
    /// <summary>The environment variable naming an already-running emulator, for example <c>http://127.0.0.1:9023</c>.</summary>
    public const string EndpointVariable = "IPC_TEST_GCS_ENDPOINT";

    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _classBuckets = new();
    private readonly ConcurrentBag<string> _created = [];
    private readonly ConcurrentBag<IDisposable> _stores = [];
    private readonly ConcurrentBag<IDisposable> _clients = [];
    private GcsEmulatorServer? _server;

    /// <summary>Gets the emulator's root URI, ending with <c>/</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Gets a client for raw JSON API requests, relative to <see cref="BaseUri"/>.</summary>
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string? endpoint = Environment.GetEnvironmentVariable(EndpointVariable);
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            _server = await GcsEmulatorServer.StartAsync(port: 0);
            BaseUri = _server.BaseUri;
        }
        else
        {
            BaseUri = new Uri(endpoint.TrimEnd('/') + "/");
        }

        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            using HttpResponseMessage health = await Http.GetAsync("_emulator/health");
            health.EnsureSuccessStatusCode();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException($"The GCS emulator at {BaseUri} ({(_server is null ? EndpointVariable : "in-process")}) does not answer: {ex.Message}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (IDisposable disposable in _stores.Concat(_clients))
        {
            disposable.Dispose();
        }

        try
        {
            foreach (string bucket in _created)
            {
                await DeleteBucketAsync(bucket);
            }
        }
        finally
        {
            Http.Dispose();
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }
        }
    }

    /// <summary>Returns a fresh, valid bucket name, unique to this run.</summary>
    public static string NewBucketName() => "ipc-gcs-" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>Returns the bucket of a test class, created on its first call.</summary>
    public Task<string> BucketForAsync(string owner) =>
        _classBuckets.GetOrAdd(owner, _ => new Lazy<Task<string>>(() => CreateBucketAsync())).Value;

    /// <summary>Creates a new bucket through the JSON API; it is deleted (with its objects) at the end.</summary>
    public async Task<string> CreateBucketAsync()
    {
        string name = NewBucketName();
        using HttpResponseMessage response = await Http.PostAsJsonAsync("storage/v1/b?project=ipc-tests", new { name });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        _created.Add(name);
        return name;
    }

    /// <summary>Deletes <paramref name="bucket"/> (with its objects) at the end, for buckets a store created itself.</summary>
    public void Track(string bucket) => _created.Add(bucket);

    /// <summary>Returns options for <paramref name="bucket"/> on the emulator, with short retry delays.</summary>
    public GcsStoreOptions Options(string bucket, Action<GcsStoreOptions>? configure = null)
    {
        var options = new GcsStoreOptions
        {
            Bucket = bucket,
            BaseUri = BaseUri,
            MaxRetryAttempts = 2,
            RetryDelay = TimeSpan.FromMilliseconds(10),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
            AttemptTimeout = TimeSpan.FromSeconds(30),
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Creates a store (disposed at the end).</summary>
    public GcsInputStateStore Store(string bucket, Action<GcsStoreOptions>? configure = null) => Keep(new GcsInputStateStore(Options(bucket, configure)));

    /// <summary>
    /// Creates a store over a client of the application's (as <c>AddGcsStore()</c> finds one under
    /// <see cref="GcsInputStateStore.ClientServiceKey"/>) whose requests go through <paramref name="recorder"/>; the
    /// client makes up to MaxRetryAttempts + 1 tries of a resumable chunk, as one the store creates does.
    /// </summary>
    public GcsInputStateStore RecordedStore(string bucket, RecordingHandler recorder, Action<GcsStoreOptions>? configure = null)
    {
        GcsStoreOptions options = Options(bucket, configure);
        StorageClient client = Clients.For(BaseUri, recorder);
        client.Service.HttpClient.MessageHandler.NumTries = options.MaxRetryAttempts + 1;
        _clients.Add(client);
        return Keep(new GcsInputStateStore(client, options));
    }

    /// <summary>Arms emulator faults (one object or an array), as <c>POST /_emulator/faults</c>.</summary>
    public async Task InjectFaultAsync(object fault)
    {
        using HttpResponseMessage response = await Http.PostAsJsonAsync("_emulator/faults", fault);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Returns how many uses the armed faults have left.</summary>
    public async Task<int> RemainingFaultUsesAsync()
    {
        using JsonDocument faults = JsonDocument.Parse(await Http.GetStringAsync("_emulator/faults"));
        return faults.RootElement.GetProperty("faults").EnumerateArray().Sum(f => f.GetProperty("count").GetInt32());
    }

    /// <summary>Returns the raw object resource of <paramref name="name"/>, or null when it does not exist.</summary>
    public async Task<JsonElement?> GetObjectAsync(string bucket, string name)
    {
        using HttpResponseMessage response = await Http.GetAsync($"storage/v1/b/{bucket}/o/{Uri.EscapeDataString(name)}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Lists every object name in <paramref name="bucket"/> through the raw JSON API.</summary>
    public async Task<List<string>> ListNamesAsync(string bucket, string prefix = "")
    {
        var names = new List<string>();
        string? token = null;
        do
        {
            string uri = $"storage/v1/b/{bucket}/o?prefix={Uri.EscapeDataString(prefix)}" + (token is null ? string.Empty : "&pageToken=" + Uri.EscapeDataString(token));
            using JsonDocument page = JsonDocument.Parse(await Http.GetStringAsync(uri));
            if (page.RootElement.TryGetProperty("items", out JsonElement items))
            {
                names.AddRange(items.EnumerateArray().Select(i => i.GetProperty("name").GetString()!));
            }

            token = page.RootElement.TryGetProperty("nextPageToken", out JsonElement next) ? next.GetString() : null;
        }
        while (token is not null);
        return names;
    }

    /// <summary>Returns whether <paramref name="bucket"/> exists.</summary>
    public async Task<bool> BucketExistsAsync(string bucket)
    {
        using HttpResponseMessage response = await Http.GetAsync($"storage/v1/b/{bucket}");
        return response.StatusCode == HttpStatusCode.OK;
    }

    /// <summary>Deletes every object of <paramref name="bucket"/>, then the bucket.</summary>
    public async Task DeleteBucketAsync(string bucket)
    {
        if (!await BucketExistsAsync(bucket))
        {
            return;
        }

        List<string> names = await ListNamesAsync(bucket);
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (name, ct) =>
        {
            using HttpResponseMessage deleted = await Http.DeleteAsync($"storage/v1/b/{bucket}/o/{Uri.EscapeDataString(name)}", ct);
        });
        using HttpResponseMessage response = await Http.DeleteAsync($"storage/v1/b/{bucket}");
    }

    private GcsInputStateStore Keep(GcsInputStateStore store)
    {
        _stores.Add(store);
        return store;
    }
}
