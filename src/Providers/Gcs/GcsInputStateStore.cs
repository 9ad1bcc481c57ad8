using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Google.Apis.Auth.OAuth2;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Object = Google.Apis.Storage.v1.Data.Object;

namespace InputPipeline.Checkpointing.Gcs;

/// <summary>
/// An <see cref="IInputStateStore"/> over a Google Cloud Storage bucket, on Google.Cloud.Storage.V1. Each key is the
/// object <see cref="Prefix"/> + key; an object's version is its generation, as a decimal string.
/// </summary>
/// <remarks>
/// <para>
/// Conditions map to generation preconditions: a create-only write sends <c>ifGenerationMatch=0</c>, a
/// compare-and-swap <c>ifGenerationMatch=&lt;generation&gt;</c>, a conditional delete likewise; a failed precondition
/// (HTTP 412) becomes <see cref="CheckpointConflictException"/>.
/// </para>
/// <para>
/// Content up to <see cref="GcsStoreOptions.ResumableThreshold"/> bytes is uploaded in one <c>multipart</c> request
/// (one round trip, where the client library's uploads, all resumable, take two); longer content goes through the
/// client library's resumable upload in <see cref="GcsStoreOptions.ChunkSize"/> chunks, from one buffer, so a write
/// holds at most max(threshold, chunk size + 1) bytes whatever its length. Cloud Storage makes an object visible only
/// when its upload completes; a failed or cancelled resumable upload cancels its session. A read is one <c>GET</c>
/// through the client's own authenticated HTTP client, which streams the content and tells its generation
/// (<c>x-goog-generation</c>); the client library's download would need a second request to learn it.
/// </para>
/// <para>
/// The store retries what the client library does not: its own requests (downloads, one-request uploads, the start of
/// an upload session) and, so that one policy with one set of options governs every call, the library calls it makes
/// (metadata, deletes, listing pages, the bucket). Transient failures (HTTP 408, 429, 5xx, network errors, attempt
/// timeouts) are retried with exponential backoff and jitter, up to <see cref="GcsStoreOptions.MaxRetryAttempts"/>
/// times, when the request is safe to repeat: reads, listings, anything with a generation precondition, session
/// starts. Unconditional writes and deletes are retried only after HTTP 429 or a failure to connect. The chunks of a
/// resumable upload are resumed by the client library. A retried conditional delete whose first attempt landed
/// answers 404, which counts as deleted; a retried create-only write whose first attempt landed answers 412, which the
/// checkpoint manager confirms.
/// </para>
/// <para>
/// On first use the store checks that the bucket exists (creating it when <see cref="GcsStoreOptions.CreateBucketIfMissing"/>
/// is set); a credential that may not read bucket metadata (HTTP 403) is assumed to see an existing bucket. The client
/// library does not survive trimming, so this package is not AOT compatible. The store is thread-safe; dispose it to
/// release a client it created.
/// </para>
/// </remarks>
public sealed class GcsInputStateStore : IInputStateStore, IDisposable
{
    /// <summary>The provider name, <c>Gcs</c>: the value of <see cref="ProviderName"/> and of <c>InputPipelineCheckpointing:Provider</c> that selects this store.</summary>
    public const string GcsProviderName = "Gcs";

    /// <summary>
    /// The service key, <c>InputPipelineCheckpointing:Gcs</c>, under which <c>AddGcsStore()</c> looks for a
    /// <see cref="StorageClient"/> the application registered as a keyed service, to use it (its credentials, endpoint,
    /// retry settings and user agent) instead of creating one.
    /// </summary>
    public const string ClientServiceKey = GcsStoreOptions.SectionPath;

    /// <summary>
    /// The service key, <c>InputPipelineCheckpointing:Gcs:Credential</c>, under which <c>AddGcsStore()</c> looks for a
    /// keyed <see cref="GoogleCredential"/> to create its client with, instead of the configured credentials.
    /// </summary>
    public const string CredentialServiceKey = GcsStoreOptions.SectionPath + ":Credential";

    /// <summary>The longest prefix, in UTF-8 bytes with its trailing <c>/</c>: 124, so that prefix + key fits 1,024 bytes.</summary>
    internal const int MaxPrefixBytes = 1024 - StoreKey.MaxKeyBytes;


    private readonly GcsStoreOptions _options;
    private readonly GoogleCredential? _credential;
    private readonly bool _ownsClient;
    private readonly ILogger _logger;
    private readonly GcsCalls _calls;
    private readonly OnceGate _ready;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly Google.Apis.Http.IHttpClientFactory? _httpClientFactory;
    private StorageClient? _client;

    /// <summary>Creates a store with a client of its own, on the endpoint and with the credentials the options name.</summary>
    /// <param name="options">The options; validated here and copied.</param>
    /// <param name="credential">
    /// The credential to create the client with instead of <see cref="GcsStoreOptions.CredentialsFile"/> or application
    /// default credentials, unless <see cref="GcsStoreOptions.Anonymous"/> is <see langword="true"/>; <see langword="null"/>
    /// (the default) uses the options. Credentials are loaded on first use, not here.
    /// </param>
    /// <param name="loggerFactory">Creates the store's logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its configuration key.</exception>
    public GcsInputStateStore(GcsStoreOptions options, GoogleCredential? credential = null, ILoggerFactory? loggerFactory = null)
        : this(null, options, credential, loggerFactory)
    {
    }

    /// <summary>Creates a store whose own client sends its requests through <paramref name="httpClientFactory"/> (for tests).</summary>
    internal GcsInputStateStore(GcsStoreOptions options, GoogleCredential? credential, Google.Apis.Http.IHttpClientFactory httpClientFactory)
        : this(null, options, credential, null)
    {
        _httpClientFactory = httpClientFactory;
    }

    /// <summary>
    /// Creates a store over a client the application made (its credentials, endpoint, HTTP settings and user agent
    /// apply; <see cref="GcsStoreOptions.BaseUri"/>, the credential options and <see cref="GcsStoreOptions.Anonymous"/>
    /// are not used). The store does not dispose <paramref name="client"/>.
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="options">The options (bucket, prefix, bucket creation, upload and retry settings); validated here and copied.</param>
    /// <param name="loggerFactory">Creates the store's logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="client"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its configuration key.</exception>
    public GcsInputStateStore(StorageClient client, GcsStoreOptions options, ILoggerFactory? loggerFactory = null)
        : this(client ?? throw new ArgumentNullException(nameof(client)), options, null, loggerFactory)
    {
    }

    private GcsInputStateStore(StorageClient? client, GcsStoreOptions options, GoogleCredential? credential, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (GcsOptionFailure failure in GcsStoreOptionsValidator.Check(options))
        {
            throw failure.ToException();
        }

        _options = options.Clone();
        _client = client;
        _ownsClient = client is null;
        _credential = credential;
        _logger = (ILogger?)loggerFactory?.CreateLogger<GcsInputStateStore>() ?? NullLogger.Instance;
        _bucket = options.Bucket!;
        _prefix = options.NormalizedPrefix();
        _calls = new GcsCalls(_options, _logger, () => BaseUri, BucketMissing);
        _ready = new OnceGate(PrepareAsync);
    }

    /// <inheritdoc/>
    /// <value>Always <see cref="GcsProviderName"/>.</value>
    public string ProviderName => GcsProviderName;

    /// <summary>Gets the bucket.</summary>
    public string Bucket => _bucket;

    /// <summary>Gets the normalised prefix every key is stored under: empty, or ending with <c>/</c>.</summary>
    public string Prefix => _prefix;

    /// <summary>
    /// Gets the client the store uses: the one it was given, or the one it created on first use (<see langword="null"/>
    /// before that).
    /// </summary>
    public StorageClient? Client => _client;

    /// <summary>Gets the root of the endpoint, ending with <c>/</c>: the client's, once the store has one, else the options'.</summary>
    public Uri BaseUri => _client is { } client ? Root(client) : _options.NormalizedBaseUri();

    /// <inheritdoc/>
    /// <remarks>
    /// Content of known length up to <see cref="GcsStoreOptions.ResumableThreshold"/> is sent straight from its stream
    /// (and read again for a retry); other content up to it is buffered first; longer content goes through a resumable
    /// session. A cancelled write cancels its session and leaves no new object.
    /// </remarks>
    /// <exception cref="CheckpointConflictException">The condition did not hold (HTTP 412); nothing was written. Also what a retried create-only write reports when its first attempt landed.</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused or could not be loaded, the service failed after the retries, or it could not be reached.</exception>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWrite(key, content, condition, cancellationToken);
        long? generationMatch = condition.Kind switch
        {
            WriteConditionKind.IfAbsent => 0,
            WriteConditionKind.IfVersionMatches => TryParseGeneration(condition.Version!.Value.Value, out long generation)
                ? generation
                : throw new CheckpointConflictException(GcsProviderName, key, condition), // not a generation: no object has it
            _ => null,
        };
        StorageClient client = await ReadyAsync(cancellationToken, key).ConfigureAwait(false);
        if (content.CanSeek && content.Length - content.Position <= _options.ResumableThreshold)
        {
            var source = new SeekableContent(content, content.Position);
            try
            {
                long length = Math.Max(0, content.Length - content.Position);
                return await UploadInOneRequestAsync(client, key, () => source.Window(0, length), generationMatch, condition, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                source.Close();
            }
        }

        // Buffer up to the threshold to learn whether the content fits one request.
        if (!content.CanSeek)
        {
            using var first = new PooledBuffer(Math.Max(1, Math.Min(64 * 1024, _options.ResumableThreshold)));
            if (await first.FillAsync(content, _options.ResumableThreshold, grow: true, cancellationToken).ConfigureAwait(false)
                || !await HasMoreAsync(content, first, cancellationToken).ConfigureAwait(false))
            {
                return await UploadInOneRequestAsync(client, key, () => new MemoryStream(first.Array, 0, first.Length, writable: false), generationMatch, condition, cancellationToken).ConfigureAwait(false);
            }

            using var rest = new PrefixedStream(first, content);
            return await GcsResumableUpload.RunAsync(client, _calls, _bucket, _prefix + key, key, rest, generationMatch, condition, _options, _logger, cancellationToken).ConfigureAwait(false);
        }

        // The client library reads a non-seekable stream into one reused chunk buffer (a seekable one, into a new array per chunk).
        using var forward = new PrefixedStream(null, content);
        return await GcsResumableUpload.RunAsync(client, _calls, _bucket, _prefix + key, key, forward, generationMatch, condition, _options, _logger, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One <c>GET</c> (<c>alt=media</c>, with <c>Range: bytes=&lt;offset&gt;-</c> past 0); the metadata is that of exactly
    /// the generation returned. A failure while the content is read surfaces as <see cref="CheckpointStoreException"/>.
    /// </remarks>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused or could not be loaded, the service failed after the retries, or it could not be reached.</exception>
    public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckRead(key, offset, cancellationToken);
        StorageClient client = await ReadyAsync(cancellationToken, key).ConfigureAwait(false);
        var uri = new Uri($"{client.Service.BaseUri}b/{Uri.EscapeDataString(_bucket)}/o/{Uri.EscapeDataString(_prefix + key)}?alt=media");
        return await OffsetRead.ReadAsync(
            GcsProviderName,
            key,
            offset,
            ct => CallAsync("reading", key, idempotent: true, (_, attemptToken) => GcsMedia.DownloadAsync(client, uri, key, offset, Translate, attemptToken), ct),
            async ct => await GetMetadataAsync(client, key, ct).ConfigureAwait(false) is { } metadata ? InfoOf(key, metadata) : null,
            cancellationToken).ConfigureAwait(false);

        CheckpointStoreException Translate(Exception ex) => new(GcsProviderName, key, $"reading the content failed: {GcsErrors.Describe(ex)}", ex);
    }

    /// <inheritdoc/>
    /// <remarks>Pages through every object (1,000 per request); names under <see cref="Prefix"/> that are not valid keys are skipped.</remarks>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused or could not be loaded, the service failed after the retries, or it could not be reached.</exception>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        ListCoreAsync(StoreArguments.CheckList(prefix), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>A retried conditional delete that finds the object gone (its first attempt deleted it, and the answer was lost) reports <see langword="true"/>.</remarks>
    /// <exception cref="CheckpointConflictException">The object exists but its generation differs from <paramref name="ifVersion"/> (HTTP 412).</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused or could not be loaded, the service failed after the retries, or it could not be reached.</exception>
    public async Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckDelete(key, ifVersion, cancellationToken);
        StorageClient client = await ReadyAsync(cancellationToken, key).ConfigureAwait(false);
        long? generationMatch = null;
        if (ifVersion is { } expected)
        {
            if (!TryParseGeneration(expected.Value, out long generation))
            {
                // Not a generation: no object has it, so the delete fails if the object exists.
                return await GetMetadataAsync(client, key, cancellationToken).ConfigureAwait(false) is null
                    ? false
                    : throw new CheckpointConflictException(GcsProviderName, key, WriteCondition.IfVersionMatches(expected));
            }

            generationMatch = generation;
        }

        var options = new DeleteObjectOptions { IfGenerationMatch = generationMatch, RetryOptions = RetryOptions.Never };
        return await CallAsync("deleting", key, idempotent: generationMatch is not null, async (attempt, ct) =>
        {
            try
            {
                await client.DeleteObjectAsync(_bucket, _prefix + key, options, ct).ConfigureAwait(false);
                return true;
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound && !GcsErrors.IsBucketNotFound(ex))
            {
                return attempt > 1 && generationMatch is not null; // a retried conditional delete: the first attempt landed
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed)
            {
                throw new CheckpointConflictException(GcsProviderName, key, WriteCondition.IfVersionMatches(ifVersion!.Value), ex);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the client if the store created it.</summary>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client?.Dispose();
        }
    }

    /// <summary>Returns a readable description, for example <c>Gcs store gs://bucket/prefix/ at https://storage.googleapis.com/</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => $"{GcsProviderName} store gs://{_bucket}/{_prefix} at {BaseUri}";

    private static bool TryParseGeneration(string? value, out long generation) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out generation) && generation > 0;

    private static Uri Root(StorageClient client)
    {
        string api = client.Service.BaseUri;
        return new Uri(api.EndsWith(GcsClients.ApiPath, StringComparison.Ordinal) ? api[..^GcsClients.ApiPath.Length] : api);
    }

    private static StoreObjectInfo InfoOf(string key, Object resource) =>
        new(
            key,
            (long)(resource.Size ?? 0),
            resource.Generation is { } generation and > 0
                ? new StoreVersion(generation.ToString(CultureInfo.InvariantCulture))
                : throw new CheckpointStoreException(GcsProviderName, key, "the service described the object without its generation."),
            resource.UpdatedDateTimeOffset ?? DateTimeOffset.UnixEpoch);

    private static async Task<bool> HasMoreAsync(Stream content, PooledBuffer first, CancellationToken cancellationToken)
    {
        // The content filled the buffer exactly: one more byte tells whether it ends there.
        first.EnsureCapacity(first.Length + 1);
        int read = await content.ReadAsync(first.Array.AsMemory(first.Length, 1), cancellationToken).ConfigureAwait(false);
        first.Length += read;
        return read > 0;
    }

    /// <summary>Builds the client (once) and makes sure of the bucket (once, again after the store found it gone).</summary>
    private async Task<StorageClient> ReadyAsync(CancellationToken cancellationToken, string? key = null)
    {
        try
        {
            await _ready.EnsureAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointStoreException ex) when (key is not null && ex.Key is null)
        {
            // The preparation is shared by every call; its failure is reported with each caller's key.
            throw new CheckpointStoreException(GcsProviderName, key, ex.Message[(GcsProviderName.Length + " store: ".Length)..], ex.InnerException);
        }

        return _client!;
    }

    private async Task PrepareAsync()
    {
        if (_client is null)
        {
            try
            {
                _client = await GcsClients.CreateAsync(_options, _credential, _httpClientFactory, CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                throw new CheckpointStoreException(GcsProviderName, null, $"no credentials: {ex.Message}", ex.InnerException ?? ex);
            }
        }

        StorageClient client = _client;
        bool exists = await CallAsync("checking the bucket", null, idempotent: true, async (_, ct) =>
        {
            try
            {
                await client.GetBucketAsync(_bucket, new GetBucketOptions { RetryOptions = RetryOptions.Never }, ct).ConfigureAwait(false);
                return true;
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.Forbidden)
            {
                // Object roles (roles/storage.objectAdmin) do not include storage.buckets.get: go on, the object requests will tell.
                GcsLog.BucketNotInspectable(_logger, _bucket);
                return true;
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
        }, CancellationToken.None).ConfigureAwait(false);
        if (exists)
        {
            return;
        }

        if (!_options.CreateBucketIfMissing)
        {
            throw BucketMissing(null, "checking the bucket", null);
        }

        await CallAsync($"creating the bucket \"{_bucket}\" in project \"{_options.ProjectId}\"", null, idempotent: true, async (_, ct) =>
        {
            try
            {
                await client.CreateBucketAsync(_options.ProjectId, _bucket, new CreateBucketOptions { RetryOptions = RetryOptions.Never }, ct).ConfigureAwait(false);
                GcsLog.BucketCreated(_logger, _bucket, _options.ProjectId!);
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.Conflict)
            {
                GcsLog.BucketAlreadyCreated(_logger, _bucket); // created meanwhile by another writer, or by an earlier attempt
            }

            return true;
        }, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task<Object?> GetMetadataAsync(StorageClient client, string key, CancellationToken cancellationToken) =>
        await CallAsync("reading metadata", key, idempotent: true, async (_, ct) =>
        {
            try
            {
                return await client.GetObjectAsync(_bucket, _prefix + key, new GetObjectOptions { RetryOptions = RetryOptions.Never }, ct).ConfigureAwait(false);
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound && !GcsErrors.IsBucketNotFound(ex))
            {
                return null;
            }
        }, cancellationToken).ConfigureAwait(false);

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        StorageClient client = await ReadyAsync(cancellationToken).ConfigureAwait(false);
        string fullPrefix = _prefix + prefix;
        string? pageToken = null;
        do
        {
            var options = new ListObjectsOptions { PageSize = 1000, PageToken = pageToken, Fields = "nextPageToken,items(name,size,generation,updated)", RetryOptions = RetryOptions.Never };
            Google.Apis.Storage.v1.Data.Objects page = await CallAsync($"listing prefix \"{prefix}\"", null, idempotent: true, async (_, ct) =>
            {
                await foreach (Google.Apis.Storage.v1.Data.Objects response in client.ListObjectsAsync(_bucket, fullPrefix.Length == 0 ? null : fullPrefix, options).AsRawResponses().WithCancellation(ct).ConfigureAwait(false))
                {
                    return response;
                }

                return new Google.Apis.Storage.v1.Data.Objects();
            }, cancellationToken).ConfigureAwait(false);
            foreach (Object item in page.Items ?? [])
            {
                if (item.Name is { } name && name.StartsWith(fullPrefix, StringComparison.Ordinal) && item.Generation > 0 && StoreKey.IsValid(name[_prefix.Length..]))
                {
                    yield return InfoOf(name[_prefix.Length..], item);
                }
            }

            pageToken = string.IsNullOrEmpty(page.NextPageToken) ? null : page.NextPageToken;
        }
        while (pageToken is not null);
    }

    private async Task<StoreVersion> UploadInOneRequestAsync(StorageClient client, string key, Func<Stream> body, long? generationMatch, WriteCondition condition, CancellationToken cancellationToken)
    {
        string? md5 = null;
        if (_options.TransferValidation)
        {
            using Stream data = body();
#pragma warning disable CA5351 // MD5 is the integrity check the JSON API verifies (md5Hash), not a security measure.
            md5 = Convert.ToBase64String(await MD5.HashDataAsync(data, cancellationToken).ConfigureAwait(false));
#pragma warning restore CA5351
        }

        var metadata = new Object { Name = _prefix + key, ContentType = GcsMedia.OctetStream, Md5Hash = md5 };
        Uri uri = UploadUri(client, "multipart", generationMatch);
        Object written = await CallAsync("writing", key, idempotent: generationMatch is not null, (_, ct) => GcsErrors.Conditional(condition, key, () => GcsMedia.UploadAsync(client, uri, metadata, body, ct)), cancellationToken).ConfigureAwait(false);
        return GcsMedia.VersionOf(key, written);
    }

    private Uri UploadUri(StorageClient client, string uploadType, long? generationMatch) =>
        new(Root(client), $"upload/storage/v1/b/{Uri.EscapeDataString(_bucket)}/o?uploadType={uploadType}{(generationMatch is { } g ? string.Create(CultureInfo.InvariantCulture, $"&ifGenerationMatch={g}") : string.Empty)}");

    /// <summary>Runs <paramref name="call"/> (given its attempt number) under the retry policy; see <see cref="GcsCalls"/>.</summary>
    private Task<T> CallAsync<T>(string operation, string? key, bool idempotent, Func<int, CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        _calls.RunAsync(operation, key, idempotent, call, cancellationToken);

    private CheckpointStoreException Failure(string operation, string? key, Exception exception, int attempts) =>
        _calls.Failure(operation, key, exception, attempts);

    private CheckpointStoreException BucketMissing(string? key, string operation, Exception? exception)
    {
        _ready.Reset();
        return new CheckpointStoreException(
            GcsProviderName,
            key,
            $"{operation} failed: the bucket \"{_bucket}\" does not exist at {BaseUri}. Create it, or set {GcsStoreOptions.SectionPath}:CreateBucketIfMissing to true (with {GcsStoreOptions.SectionPath}:ProjectId).",
            exception);
    }
}
