using System.Collections.Concurrent;
using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.S3.Tests;

/// <summary>The collection every test that talks to moto belongs to, so one moto_server serves them all.</summary>
[CollectionDefinition(Name)]
public sealed class MotoGroup : ICollectionFixture<MotoFixture>
{
    public const string Name = "moto";
}

/// <summary>
/// Starts <c>moto_server -H 127.0.0.1 -p &lt;free port&gt;</c> (Python's moto 5.x, which must be on PATH) with a temp
/// working folder, or uses the already-running endpoint in <see cref="EndpointVariable"/>. Tests create buckets through
/// it; at the end it empties and deletes every bucket they created (moto keeps data in memory) and stops moto. When
/// moto cannot start, every test of the collection fails with the reason — none is skipped.
/// </summary>
public sealed class MotoFixture : IAsyncLifetime, IDisposable
{
    /// <summary>The environment variable naming an already-running S3 endpoint (a URL) to use instead of starting moto.</summary>
    public const string EndpointVariable = "IPC_TEST_S3_ENDPOINT";

    /// <summary>The executable started: <c>moto_server</c>.</summary>
    public const string Executable = "moto_server";

    public const string Region = "us-east-1";

    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _bucketsByLabel = new();
    private readonly ConcurrentDictionary<string, byte> _bucketsToDelete = new();
    private readonly ConcurrentBag<IDisposable> _disposables = [];
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private TempDirectory? _workDirectory;
    private ExternalProcess? _moto;
    private AmazonS3Client? _client;
    private Uri? _endpoint;

    /// <summary>Gets the fake credentials moto accepts.</summary>
    public static AWSCredentials Credentials { get; } = new BasicAWSCredentials("test", "test");

    /// <summary>Gets the S3 endpoint.</summary>
    public Uri Endpoint => _endpoint ?? throw new InvalidOperationException("The moto fixture is not initialised.");

    /// <summary>Gets a raw SDK client for the endpoint, for checks behind the store's back.</summary>
    public AmazonS3Client Client => _client ?? throw new InvalidOperationException("The moto fixture is not initialised.");

    public async Task InitializeAsync()
    {
        string? configured = Environment.GetEnvironmentVariable(EndpointVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (!Uri.TryCreate(configured.Trim(), UriKind.Absolute, out Uri? endpoint))
            {
                throw new InvalidOperationException($"{EndpointVariable} is \"{configured}\", which is not an absolute URL such as http://127.0.0.1:5000.");
            }

            _endpoint = endpoint;
        }
        else
        {
            string executable = FindOnPath(Executable) ?? throw new InvalidOperationException(
                $"{Executable} was not found on PATH ({Environment.GetEnvironmentVariable("PATH")}). The S3 tests run against moto: install it with " +
                $"`pip install \"moto[server]\"` (moto 5.x), or set {EndpointVariable} to the URL of a running S3-compatible endpoint.");
            int port = FreePort.Get();
            _endpoint = new Uri($"http://127.0.0.1:{port}/");
            _workDirectory = new TempDirectory("moto");
            _ = executable; // moto is installed; it is started one request at a time (see MotoServer)
            _moto = await MotoServer.StartAsync(port, _workDirectory.Path);
        }

        _client = new AmazonS3Client(Credentials, new AmazonS3Config
        {
            ServiceURL = Endpoint.AbsoluteUri,
            AuthenticationRegion = Region,
            ForcePathStyle = true,
            MaxErrorRetry = 2,
        });
    }

    public async Task DisposeAsync()
    {
        List<Exception> failures = [];
        try
        {
            foreach (IDisposable disposable in _disposables)
            {
                disposable.Dispose();
            }

            if (_client is not null)
            {
                foreach (string bucket in _bucketsToDelete.Keys)
                {
                    try
                    {
                        await DeleteBucketAsync(bucket);
                    }
                    catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
                    {
                        // Never created, or already deleted.
                    }
                    catch (AmazonServiceException ex)
                    {
                        failures.Add(ex);
                    }
                }

            }
        }
        finally
        {
            if (_moto is not null)
            {
                await _moto.DisposeAsync();
                _moto = null;
            }

            Dispose();
        }

        if (failures.Count > 0)
        {
            throw new AggregateException("Deleting the test buckets failed.", failures);
        }
    }

    /// <summary>Releases the raw client and the temp folder (also done by <see cref="DisposeAsync"/>).</summary>
    public void Dispose()
    {
        _client?.Dispose();
        _client = null;
        _workDirectory?.Dispose();
        _workDirectory = null;
    }

    /// <summary>Returns a bucket name unique to this run, to be deleted at the end; the bucket is not created.</summary>
    public string NewBucketName(string label)
    {
        string name = $"ipc-{label}-{_run}-{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();
        _bucketsToDelete[name] = 0;
        return name;
    }

    /// <summary>Creates a new bucket, deleted at the end.</summary>
    public async Task<string> CreateBucketAsync(string label)
    {
        string name = NewBucketName(label);
        await Client.PutBucketAsync(new PutBucketRequest { BucketName = name });
        return name;
    }

    /// <summary>Returns the bucket of <paramref name="label"/>, creating it the first time (once per test class and run).</summary>
    public Task<string> BucketAsync(string label) =>
        _bucketsByLabel.GetOrAdd(label, l => new Lazy<Task<string>>(() => CreateBucketAsync(l))).Value;

    /// <summary>Returns store options for <paramref name="bucket"/> on this endpoint, with short retries.</summary>
    public S3StoreOptions Options(string bucket, string? prefix = null) => new()
    {
        Bucket = bucket,
        Prefix = prefix,
        ServiceUrl = Endpoint,
        ForcePathStyle = true,
        Region = Region,
        MaxErrorRetry = 2,
        Timeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>Creates a store with moto's fake credentials; it is disposed at the end.</summary>
    public S3InputStateStore CreateStore(S3StoreOptions options)
    {
        var store = new S3InputStateStore(options, Credentials);
        _disposables.Add(store);
        return store;
    }

    /// <summary>Returns the keys of the multipart uploads in progress in <paramref name="bucket"/>.</summary>
    public async Task<List<string>> MultipartUploadsAsync(string bucket, string prefix = "")
    {
        ListMultipartUploadsResponse response = await Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket, Prefix = prefix });
        return [.. (response.MultipartUploads ?? []).Select(u => $"{u.Key} ({u.UploadId})")];
    }

    private async Task DeleteBucketAsync(string bucket)
    {
        ListMultipartUploadsResponse uploads = await Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
        foreach (MultipartUpload upload in uploads.MultipartUploads ?? [])
        {
            await Client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = upload.Key, UploadId = upload.UploadId });
        }

        var list = new ListObjectsV2Request { BucketName = bucket };
        do
        {
            ListObjectsV2Response page = await Client.ListObjectsV2Async(list);
            List<KeyVersion> keys = [.. (page.S3Objects ?? []).Select(o => new KeyVersion { Key = o.Key })];
            if (keys.Count > 0)
            {
                await Client.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = bucket, Objects = keys, Quiet = true });
            }

            list.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (list.ContinuationToken is not null);

        await Client.DeleteBucketAsync(new DeleteBucketRequest { BucketName = bucket });
    }

    private static string? FindOnPath(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
