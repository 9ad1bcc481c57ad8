using System.Globalization;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Azure.Storage.Blobs;
using GcsEmulator;
using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.Gcs;
using InputPipeline.Checkpointing.S3;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

[CollectionDefinition(Name)]
public sealed class EmulatorGroup : ICollectionFixture<EmulatorFixture>
{
    public const string Name = "emulators";
}

/// <summary>
/// The emulators the tool is tested on: the repository's GCS emulator in-process, moto_server (S3) and Azurite (Azure
/// Blob) as processes on free ports. None is optional: a missing emulator fails the tests with the reason.
/// The in-process tool finds S3 credentials through the standard AWS chain, so the fixture puts moto's fake keys in
/// this process's environment.
/// </summary>
public sealed class EmulatorFixture : IAsyncLifetime, IDisposable
{
    public const string AzureConnectionVariable = "CKPT_TEST_AZURE";
    public const string AzuriteAccount = AzuriteServer.AccountName;

    private readonly List<IDisposable> _stores = [];
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private int _counter;
    private GcsEmulatorServer? _gcs;
    private ExternalProcess? _moto;
    private ExternalProcess? _azurite;
    private TempDirectory? _work;
    private AmazonS3Client? _s3;

    public Uri GcsEndpoint => _gcs!.BaseUri;

    public Uri S3Endpoint { get; private set; } = null!;

    public string AzureConnectionString { get; private set; } = string.Empty;

    /// <summary>The environment the in-process tool sees for Azure: <see cref="AzureConnectionVariable"/> holds Azurite's connection string.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { [AzureConnectionVariable] = AzureConnectionString };

    public async Task InitializeAsync()
    {
        System.Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "test");
        System.Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "test");
        _work = new TempDirectory("ckpt-emulators");
        _gcs = await GcsEmulatorServer.StartAsync(port: 0);

        string moto = FindOnPath("moto_server") ?? throw new InvalidOperationException("moto_server is not on PATH: install it with `pip install \"moto[server]\"` (scripts/test.sh expects it).");
        int motoPort = FreePort.Get();
        S3Endpoint = new Uri($"http://127.0.0.1:{motoPort}/");
        _ = moto; // moto is installed; it is started one request at a time (see MotoServer)
        _moto = await MotoServer.StartAsync(motoPort, Directory.CreateDirectory(Path.Combine(_work.Path, "moto")).FullName);
        _s3 = new AmazonS3Client(new BasicAWSCredentials("test", "test"), new AmazonS3Config { ServiceURL = S3Endpoint.AbsoluteUri, AuthenticationRegion = "us-east-1", ForcePathStyle = true });

        int azuritePort = FreePort.Get();
        _azurite = await AzuriteServer.StartAsync(azuritePort, Path.Combine(_work.Path, "azurite"));
        AzureConnectionString = AzuriteServer.ConnectionStringFor(azuritePort);
    }

    public async Task DisposeAsync()
    {
        foreach (IDisposable store in _stores)
        {
            store.Dispose();
        }

        if (_gcs is not null)
        {
            await _gcs.DisposeAsync();
        }

        if (_moto is not null)
        {
            await _moto.DisposeAsync();
        }

        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }

        Dispose();
    }

    public void Dispose()
    {
        _s3?.Dispose();
        _s3 = null;
        _work?.Dispose();
        _work = null;
    }

    private string NewName(string label) => $"ckpt-{label}-{_run}-{Interlocked.Increment(ref _counter)}";

    /// <summary>Creates a GCS bucket and returns its name.</summary>
    public string CreateGcsBucket()
    {
        string name = NewName("gs");
        _gcs!.CreateBucket(name);
        return name;
    }

    /// <summary>Creates an S3 bucket and returns its name.</summary>
    public async Task<string> CreateS3BucketAsync()
    {
        string name = NewName("s3");
        await _s3!.PutBucketAsync(new PutBucketRequest { BucketName = name });
        return name;
    }

    /// <summary>Creates an Azure container and returns its name.</summary>
    public async Task<string> CreateAzureContainerAsync()
    {
        string name = NewName("az");
        await new BlobServiceClient(AzureConnectionString).GetBlobContainerClient(name).CreateAsync();
        return name;
    }

    public GcsInputStateStore GcsStore(string bucket, string prefix = "") =>
        Track(new GcsInputStateStore(new GcsStoreOptions { Bucket = bucket, Prefix = prefix, BaseUri = GcsEndpoint }));

    public S3InputStateStore S3Store(string bucket, string prefix = "") =>
        Track(new S3InputStateStore(new S3StoreOptions { Bucket = bucket, Prefix = prefix, ServiceUrl = S3Endpoint, ForcePathStyle = true }, new BasicAWSCredentials("test", "test")));

    public AzureBlobInputStateStore AzureStore(string container, string prefix = "") =>
        new(new AzureBlobStoreOptions { ConnectionString = AzureConnectionString, Container = container, Prefix = prefix });

    private T Track<T>(T store)
        where T : IDisposable
    {
        lock (_stores)
        {
            _stores.Add(store);
        }

        return store;
    }

    private static string? FindOnPath(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}
