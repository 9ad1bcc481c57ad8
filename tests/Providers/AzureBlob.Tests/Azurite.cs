using System.Collections.Concurrent;
using System.Security.Cryptography;
using Azure.Storage.Blobs;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>An Azurite blob emulator process on a free loopback port, with its data in a temp folder.</summary>
public sealed class AzuriteInstance : IAsyncDisposable
{
    /// <summary>Azurite's well-known development account key: public, not a secret.</summary>
    public const string AccountKey = AzuriteServer.AccountKey;

    /// <summary>Azurite's development account name.</summary>
    public const string AccountName = AzuriteServer.AccountName;

    private readonly ExternalProcess _process;
    private readonly TempDirectory _data;
    private int _disposed;

    private AzuriteInstance(ExternalProcess process, TempDirectory data, int port)
    {
        _process = process;
        _data = data;
        Port = port;
    }

    /// <summary>Gets the port the emulator listens on.</summary>
    public int Port { get; }

    /// <summary>Gets the connection string of the emulator's development account.</summary>
    public string ConnectionString => ConnectionStringFor(Port);

    /// <summary>Gets the path of the azurite-blob launcher that tests/emulators installs with <c>npm ci</c>.</summary>
    public static string Launcher => AzuriteServer.Launcher;

    /// <summary>Returns the connection string of the development account at 127.0.0.1:<paramref name="port"/>.</summary>
    public static string ConnectionStringFor(int port) => AzuriteServer.ConnectionStringFor(port);

    /// <summary>Starts Azurite; fails with the reason (and the process's output) when it cannot.</summary>
    public static async Task<AzuriteInstance> StartAsync()
    {
        if (!File.Exists(Launcher))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed: {Launcher} does not exist. Run 'npm ci' in tests/emulators (scripts/test.sh does), "
                + $"or set {AzuriteFixture.EnvironmentVariable} to the connection string of a running Azurite.");
        }

        var data = new TempDirectory("azurite");
        int port = FreePort.Get();
        try
        {
            ExternalProcess process = await AzuriteServer.StartAsync(port, data.Path);
            return new AzuriteInstance(process, data, port);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>Stops the emulator and deletes its data.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _process.DisposeAsync();
        _data.Dispose();
    }
}

/// <summary>
/// The Azurite every emulator test of a collection shares: started once on a free port (or, when
/// <see cref="EnvironmentVariable"/> is set, the running emulator it names), with containers unique to this run that
/// are deleted at the end.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    /// <summary>The environment variable that names an already-running Azurite by its connection string.</summary>
    public const string EnvironmentVariable = "IPC_TEST_AZURITE_CONNECTION_STRING";

    private readonly string _runId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _shared = new();
    private readonly ConcurrentBag<string> _created = [];
    private AzuriteInstance? _instance;
    private int _counter;

    /// <summary>Gets the connection string of the emulator.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>Gets a client of the emulator's account, for checks behind the store's back.</summary>
    public BlobServiceClient ServiceClient { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string? external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(external))
        {
            _instance = await AzuriteInstance.StartAsync();
            ConnectionString = _instance.ConnectionString;
        }
        else
        {
            ConnectionString = external;
        }

        ServiceClient = new BlobServiceClient(ConnectionString);
        try
        {
            await ServiceClient.GetPropertiesAsync();
        }
        catch (Exception ex)
        {
            if (_instance is not null)
            {
                await _instance.DisposeAsync();
            }

            throw new InvalidOperationException($"Azurite at {ServiceClient.Uri}{(_instance is null ? $" (from {EnvironmentVariable})" : string.Empty)} does not answer: {ex.Message}", ex);
        }
    }

    /// <summary>Returns the container shared by the tests of <paramref name="owner"/>, creating it on the first call.</summary>
    public Task<string> SharedContainerAsync(string owner) =>
        _shared.GetOrAdd(owner, o => new Lazy<Task<string>>(async () =>
        {
            string name = NewContainerName(o);
            await ServiceClient.GetBlobContainerClient(name).CreateAsync();
            return name;
        })).Value;

    /// <summary>Returns a new container name unique to this run (not created), deleted at the end if it exists then.</summary>
    public string NewContainerName(string label)
    {
        string name = $"{label}-{_runId}-{Interlocked.Increment(ref _counter)}".ToLowerInvariant();
        _created.Add(name);
        return name;
    }

    /// <summary>Creates a new, empty container unique to this run.</summary>
    public async Task<string> NewContainerAsync(string label)
    {
        string name = NewContainerName(label);
        await ServiceClient.GetBlobContainerClient(name).CreateAsync();
        return name;
    }

    /// <summary>Returns store options for <paramref name="container"/> on this emulator, with short retries.</summary>
    public AzureBlobStoreOptions Options(string container, Action<AzureBlobStoreOptions>? configure = null) =>
        TestOptions.For(ConnectionString, container, configure);

    public async Task DisposeAsync()
    {
        if (ServiceClient is not null)
        {
            foreach (string name in _created)
            {
                try
                {
                    await ServiceClient.GetBlobContainerClient(name).DeleteIfExistsAsync();
                }
                catch (Exception ex) when (ex is Azure.RequestFailedException or AggregateException)
                {
                    // Best effort: the emulator's data folder is deleted anyway.
                }
            }
        }

        if (_instance is not null)
        {
            await _instance.DisposeAsync();
        }
    }
}

/// <summary>Options the tests start from.</summary>
public static class TestOptions
{
    /// <summary>Returns options for a connection string and container, with short retries and small transfers.</summary>
    public static AzureBlobStoreOptions For(string connectionString, string container, Action<AzureBlobStoreOptions>? configure = null)
    {
        var options = new AzureBlobStoreOptions
        {
            ConnectionString = connectionString,
            Container = container,
            MaxRetries = 2,
            RetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
            NetworkTimeout = TimeSpan.FromSeconds(60),
        };
        configure?.Invoke(options);
        return options;
    }
}

/// <summary>The tests that share one Azurite. They run one at a time, after the other tests, so the memory test measures only itself.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AzuriteDefinition : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
