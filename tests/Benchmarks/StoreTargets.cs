using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Google.Cloud.Storage.V1;
using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.Gcs;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.S3;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// A store to benchmark against, with the raw calls of the provider's own SDK that the SDK's save and restore are
/// compared with: one upload of the same bytes, one download into the same buffer.
/// </summary>
public abstract class StoreTarget : IAsyncDisposable
{
    /// <summary>Gets the store's name in the table ("Local", "Azurite", "moto", "GCS emulator").</summary>
    public abstract string Name { get; }

    /// <summary>Gets what the raw upload is, for the table's note.</summary>
    public abstract string RawUpload { get; }

    /// <summary>Gets what the raw download is, for the table's note.</summary>
    public abstract string RawDownload { get; }

    /// <summary>Creates an input state store over a fresh prefix of this target.</summary>
    /// <param name="prefix">The prefix (a folder name for Local).</param>
    /// <returns>The store; the caller disposes it if it is disposable.</returns>
    public abstract IInputStateStore CreateStore(string prefix);

    /// <summary>Gets the counter of the raw calls' HTTP requests (none for Local).</summary>
    public RequestCounter RawRequests { get; protected init; } = new();

    /// <summary>Gets whether the target talks HTTP, so that its requests can be counted.</summary>
    public virtual bool CountsRequests => true;

    /// <summary>Creates a store like <see cref="CreateStore"/> whose HTTP requests <paramref name="counter"/> counts.</summary>
    /// <param name="prefix">The prefix.</param>
    /// <param name="counter">The counter.</param>
    /// <returns>The store; the caller disposes it if it is disposable.</returns>
    public virtual IInputStateStore CreateCountedStore(string prefix, RequestCounter counter) => CreateStore(prefix);

    /// <summary>Uploads <paramref name="bytes"/> as <paramref name="key"/> with one plain call of the provider's SDK.</summary>
    public abstract Task RawUploadAsync(string key, byte[] bytes, CancellationToken cancellationToken = default);

    /// <summary>Downloads <paramref name="key"/> into <paramref name="buffer"/> with one plain call of the provider's SDK.</summary>
    /// <returns>The number of bytes read.</returns>
    public abstract Task<int> RawDownloadAsync(string key, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>Reads <paramref name="source"/> to its end into <paramref name="buffer"/>, as a restore target does.</summary>
    /// <returns>The number of bytes read.</returns>
    /// <exception cref="InvalidDataException">The stream holds more bytes than the buffer.</exception>
    public static async Task<int> ReadAllAsync(Stream source, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        int total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                byte[] probe = new byte[1];
                if (await source.ReadAsync(probe, cancellationToken) != 0)
                {
                    throw new InvalidDataException($"The stream holds more than the expected {buffer.Length} bytes.");
                }

                return total;
            }

            int read = await source.ReadAsync(buffer[total..], cancellationToken);
            if (read == 0)
            {
                return total;
            }

            total += read;
        }
    }
}

/// <summary>The Local store on this machine's disk, against <see cref="FileStream"/> + fsync.</summary>
public sealed class LocalTarget(string root) : StoreTarget
{
    /// <summary>Gets the root directory.</summary>
    public string Root => root;

    /// <inheritdoc />
    public override string Name => "Local";

    /// <inheritdoc />
    public override string RawUpload => "FileStream write + fsync";

    /// <inheritdoc />
    public override string RawDownload => "FileStream read";

    /// <inheritdoc />
    public override bool CountsRequests => false;

    /// <inheritdoc />
    public override IInputStateStore CreateStore(string prefix) => new LocalInputStateStore(Path.Combine(root, prefix));

    /// <inheritdoc />
    public override async Task RawUploadAsync(string key, byte[] bytes, CancellationToken cancellationToken = default)
    {
        string path = Path.Combine(root, "raw", key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
        await file.WriteAsync(bytes, cancellationToken);
        file.Flush(flushToDisk: true);
    }

    /// <inheritdoc />
    public override async Task<int> RawDownloadAsync(string key, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await using var file = new FileStream(Path.Combine(root, "raw", key), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        return await ReadAllAsync(file, buffer, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Azurite, against <see cref="BlobClient.UploadAsync(BinaryData, bool, CancellationToken)"/> and <c>DownloadStreamingAsync</c>.</summary>
public sealed class AzuriteTarget : StoreTarget
{
    private readonly ExternalProcess _process;
    private readonly string _connectionString;
    private readonly BlobContainerClient _container;

    private AzuriteTarget(ExternalProcess process, string connectionString, BlobContainerClient container, RequestCounter rawRequests)
    {
        _process = process;
        _connectionString = connectionString;
        _container = container;
        RawRequests = rawRequests;
    }

    /// <inheritdoc />
    public override string Name => "Azurite";

    /// <inheritdoc />
    public override string RawUpload => "BlobClient.UploadAsync";

    /// <inheritdoc />
    public override string RawDownload => "BlobClient.DownloadStreamingAsync";

    /// <summary>Gets Azurite's connection string.</summary>
    public string ConnectionString => _connectionString;

    /// <summary>Gets the container the benchmarks use.</summary>
    public string Container => _container.Name;

    /// <summary>Starts Azurite and creates a container.</summary>
    public static async Task<AzuriteTarget> StartAsync(string dataDirectory)
    {
        (ExternalProcess process, string connectionString) = await Emulators.StartAzuriteAsync(dataDirectory);
        var counter = new RequestCounter();
        var options = new BlobClientOptions();
        options.AddPolicy(counter.AzurePolicy(), Azure.Core.HttpPipelinePosition.PerRetry);
        var container = new BlobServiceClient(connectionString, options).GetBlobContainerClient("bench");
        await container.CreateIfNotExistsAsync();
        var target = new AzuriteTarget(process, connectionString, container, counter);
        return target;
    }

    /// <inheritdoc />
    public override IInputStateStore CreateStore(string prefix) =>
        new AzureBlobInputStateStore(new AzureBlobStoreOptions { ConnectionString = _connectionString, Container = _container.Name, Prefix = prefix });

    /// <inheritdoc />
    public override IInputStateStore CreateCountedStore(string prefix, RequestCounter counter)
    {
        var options = new BlobClientOptions();
        options.AddPolicy(counter.AzurePolicy(), Azure.Core.HttpPipelinePosition.PerRetry);
        return new AzureBlobInputStateStore(new BlobServiceClient(_connectionString, options), new AzureBlobStoreOptions { Container = _container.Name, Prefix = prefix });
    }

    /// <inheritdoc />
    public override async Task RawUploadAsync(string key, byte[] bytes, CancellationToken cancellationToken = default) =>
        await _container.GetBlobClient("raw/" + key).UploadAsync(BinaryData.FromBytes(bytes), overwrite: true, cancellationToken);

    /// <inheritdoc />
    public override async Task<int> RawDownloadAsync(string key, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Azure.Response<BlobDownloadStreamingResult> response = await _container.GetBlobClient("raw/" + key).DownloadStreamingAsync(cancellationToken: cancellationToken);
        await using Stream content = response.Value.Content;
        return await ReadAllAsync(content, buffer, cancellationToken);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        try
        {
            await _container.DeleteIfExistsAsync();
        }
        finally
        {
            await _process.DisposeAsync();
        }
    }
}

/// <summary>moto (S3), against <see cref="IAmazonS3.PutObjectAsync(PutObjectRequest, CancellationToken)"/> and <c>GetObjectAsync</c>.</summary>
public sealed class MotoTarget : StoreTarget
{
    private readonly ExternalProcess _process;
    private readonly AmazonS3Client _client;
    private readonly string _bucket;

    private MotoTarget(ExternalProcess process, Uri endpoint, AmazonS3Client client, string bucket, RequestCounter rawRequests)
    {
        _process = process;
        Endpoint = endpoint;
        _client = client;
        _bucket = bucket;
        RawRequests = rawRequests;
    }

    /// <summary>Gets moto's endpoint.</summary>
    public Uri Endpoint { get; }

    /// <summary>Gets the bucket the benchmarks use.</summary>
    public string Bucket => _bucket;

    /// <summary>Gets moto's (fake) credentials.</summary>
    public static AWSCredentials Credentials { get; } = new BasicAWSCredentials("test", "test");

    /// <inheritdoc />
    public override string Name => "moto";

    /// <inheritdoc />
    public override string RawUpload => "AmazonS3Client.PutObjectAsync";

    /// <inheritdoc />
    public override string RawDownload => "AmazonS3Client.GetObjectAsync (bytes=0-, no response checksum)";

    /// <summary>Starts moto and creates a bucket.</summary>
    public static async Task<MotoTarget> StartAsync(string workingDirectory)
    {
        (ExternalProcess process, Uri endpoint) = await Emulators.StartMotoAsync(workingDirectory);
        // The raw calls skip response checksum validation, as the store does (it verifies parts itself): with the SDK's
        // default, a whole read of a single-request object also checks its MD5 and CRC32, ~6x the download itself.
        var counter = new RequestCounter();
        var client = new AmazonS3Client(Credentials, new AmazonS3Config
        {
            ServiceURL = endpoint.AbsoluteUri,
            AuthenticationRegion = "us-east-1",
            ForcePathStyle = true,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            HttpClientFactory = counter.AwsFactory(),
        });
        const string bucket = "bench";
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        return new MotoTarget(process, endpoint, client, bucket, counter);
    }

    /// <summary>Creates the store's options for this target.</summary>
    public S3StoreOptions Options(string prefix) => new() { Bucket = _bucket, Prefix = prefix, ServiceUrl = Endpoint, ForcePathStyle = true, Region = "us-east-1" };

    /// <inheritdoc />
    public override IInputStateStore CreateStore(string prefix) => new S3InputStateStore(Options(prefix), Credentials);

    /// <inheritdoc />
    public override IInputStateStore CreateCountedStore(string prefix, RequestCounter counter)
    {
        AmazonS3Config config = S3InputStateStore.CreateClientConfig(Options(prefix));
        config.HttpClientFactory = counter.AwsFactory();
        return new S3InputStateStore(new AmazonS3Client(Credentials, config), Options(prefix));
    }

    /// <inheritdoc />
    public override async Task RawUploadAsync(string key, byte[] bytes, CancellationToken cancellationToken = default)
    {
        using var content = new MemoryStream(bytes, writable: false);
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "raw/" + key, InputStream = content, AutoCloseStream = false }, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<int> RawDownloadAsync(string key, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // "bytes=0-" is the whole object; as a range it is not MD5-checked by the SDK.
        using GetObjectResponse response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = "raw/" + key, ByteRange = new ByteRange("bytes=0-") }, cancellationToken);
        return await ReadAllAsync(response.ResponseStream, buffer, cancellationToken);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        try
        {
            // moto keeps objects in memory: empty and delete the bucket.
            string? token = null;
            do
            {
                ListObjectsV2Response page = await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, ContinuationToken = token });
                foreach (S3Object item in page.S3Objects ?? [])
                {
                    await _client.DeleteObjectAsync(_bucket, item.Key);
                }

                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (token is not null);
            await _client.DeleteBucketAsync(_bucket);
        }
        finally
        {
            _client.Dispose();
            await _process.DisposeAsync();
        }
    }
}

/// <summary>
/// The repository's GCS emulator, against the official client's own calls (Google.Cloud.Storage.V1's
/// <c>UploadObjectAsync</c> and <c>DownloadObjectAsync</c>) with the store's validation settings: no hash checks.
/// </summary>
public sealed class GcsEmulatorTarget : StoreTarget
{
    /// <summary>The bucket the benchmarks use.</summary>
    public const string Bucket = "bench";

    private readonly ExternalProcess _process;
    private readonly StorageClient _client;

    private GcsEmulatorTarget(ExternalProcess process, Uri endpoint, StorageClient client, RequestCounter rawRequests)
    {
        _process = process;
        Endpoint = endpoint;
        _client = client;
        RawRequests = rawRequests;
    }

    /// <summary>Gets the emulator's root URI.</summary>
    public Uri Endpoint { get; }

    /// <inheritdoc />
    public override string Name => "GCS emulator";

    /// <inheritdoc />
    public override string RawUpload => "StorageClient.UploadObjectAsync (no validation)";

    /// <inheritdoc />
    public override string RawDownload => "StorageClient.DownloadObjectAsync (no validation)";

    /// <summary>Returns the upload options the raw calls use: the store's chunk size and validation.</summary>
    public static UploadObjectOptions RawUploadOptions => new() { ChunkSize = GcsStoreOptions.DefaultChunkSize, UploadValidationMode = UploadValidationMode.None };

    /// <summary>Returns a client of the emulator whose requests <paramref name="counter"/> counts.</summary>
    public static StorageClient Client(Uri endpoint, RequestCounter counter) => new StorageClientBuilder
    {
        BaseUri = new Uri(endpoint, "storage/v1/").AbsoluteUri,
        UnauthenticatedAccess = true,
        HttpClientFactory = counter.GoogleFactory(),
    }.Build();

    /// <summary>Starts the emulator and creates a bucket.</summary>
    public static async Task<GcsEmulatorTarget> StartAsync()
    {
        (ExternalProcess process, Uri endpoint) = await Emulators.StartGcsEmulatorAsync();
        var counter = new RequestCounter();
        StorageClient client = Client(endpoint, counter);
        await client.CreateBucketAsync("bench", Bucket);
        return new GcsEmulatorTarget(process, endpoint, client, counter);
    }

    /// <inheritdoc />
    public override IInputStateStore CreateStore(string prefix) =>
        new GcsInputStateStore(new GcsStoreOptions { Bucket = Bucket, Prefix = prefix, BaseUri = Endpoint });

    /// <inheritdoc />
    public override IInputStateStore CreateCountedStore(string prefix, RequestCounter counter) =>
        new GcsInputStateStore(Client(Endpoint, counter), new GcsStoreOptions { Bucket = Bucket, Prefix = prefix });

    /// <inheritdoc />
    public override async Task RawUploadAsync(string key, byte[] bytes, CancellationToken cancellationToken = default)
    {
        using var content = new MemoryStream(bytes, writable: false);
        await _client.UploadObjectAsync(Bucket, "raw/" + key, "application/octet-stream", content, RawUploadOptions, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<int> RawDownloadAsync(string key, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(buffer, out ArraySegment<byte> array))
        {
            throw new ArgumentException("The buffer is not an array.", nameof(buffer));
        }

        using var destination = new MemoryStream(array.Array!, array.Offset, array.Count, writable: true);
        await _client.DownloadObjectAsync(Bucket, "raw/" + key, destination, new DownloadObjectOptions { DownloadValidationMode = DownloadValidationMode.Never }, cancellationToken);
        return (int)destination.Position;
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _process.DisposeAsync();
    }
}
