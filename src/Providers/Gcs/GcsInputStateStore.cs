using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using InputPipeline.Checkpointing.Gcs.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace InputPipeline.Checkpointing.Gcs;

/// <summary>
/// An <see cref="IInputStateStore"/> over a Google Cloud Storage bucket, spoken to through the Cloud Storage JSON API
/// over <see cref="HttpClient"/>. Each key is the object <see cref="Prefix"/> + key; an object's version is its
/// generation, as a decimal string.
/// </summary>
/// <remarks>
/// <para>
/// Conditions map to generation preconditions: a create-only write sends <c>ifGenerationMatch=0</c>, a
/// compare-and-swap <c>ifGenerationMatch=&lt;generation&gt;</c>, a conditional delete likewise; a failed precondition
/// (HTTP 412) becomes <see cref="CheckpointConflictException"/>. Content up to
/// <see cref="GcsStoreOptions.ResumableThreshold"/> bytes is uploaded in one multipart request whose MD5 the service
/// checks. Longer content goes through a resumable session: content of known length (a seekable stream) declares its
/// size and is streamed from the stream in requests of up to <see cref="GcsStoreOptions.SeekableChunkSize"/> bytes,
/// with no buffer; content of unknown length is sent in <see cref="GcsStoreOptions.ChunkSize"/> chunks, one uploading
/// while the next fills, so a write holds at most max(threshold, chunk size) + chunk size bytes in memory. Cloud
/// Storage makes an object visible only when its upload completes; a failed or cancelled resumable upload cancels its
/// session, so it leaves no object.
/// </para>
/// <para>
/// Transient failures (HTTP 408, 429, 5xx, network errors, attempt timeouts) are retried with exponential backoff
/// and jitter (Polly), up to <see cref="GcsStoreOptions.MaxRetryAttempts"/> times, when the request is safe to repeat:
/// reads, listings, anything with a generation precondition, and resumable chunks. Cloud Storage treats unconditional
/// writes and deletes as not idempotent, so they are retried only after HTTP 429 or a failure to connect. A retried
/// create-only write whose first attempt did land answers with a conflict; the checkpoint manager confirms its commit
/// in that case. After the retries, or on any other failure, the call fails with <see cref="CheckpointStoreException"/>,
/// which keeps the underlying exception as its <see cref="Exception.InnerException"/>.
/// </para>
/// <para>
/// On first use the store checks that the bucket exists (creating it when <see cref="GcsStoreOptions.CreateBucketIfMissing"/>
/// is set); a credential that may not read bucket metadata (HTTP 403) is assumed to see an existing bucket.
/// Credentials come from <see cref="GcsStoreOptions.CredentialsFile"/>, application default credentials, or an
/// <see cref="ITokenAccess"/> given to the constructor, scoped to <see cref="ReadWriteScope"/>; see
/// <see cref="GcsStoreOptions.Anonymous"/> for emulators. The store is thread-safe; dispose it to release its HTTP
/// connections.
/// </para>
/// </remarks>
public sealed partial class GcsInputStateStore : IInputStateStore, IDisposable
{
    /// <summary>The provider name, <c>Gcs</c>: the value of <see cref="ProviderName"/> and of <c>InputPipelineCheckpointing:Provider</c> that selects this store.</summary>
    public const string GcsProviderName = "Gcs";

    /// <summary>The name of the <see cref="HttpClient"/> that <c>AddGcsStore()</c> registers with <c>IHttpClientFactory</c>: <c>InputPipeline.Checkpointing.Gcs</c>.</summary>
    public const string HttpClientName = "InputPipeline.Checkpointing.Gcs";

    /// <summary>
    /// The service key under which <c>AddGcsStore()</c> looks for a keyed <see cref="ITokenAccess"/> (for example a
    /// <see cref="GoogleCredential"/>) registered by the application, used instead of the configured credentials:
    /// <c>InputPipeline.Checkpointing.Gcs</c>.
    /// </summary>
    public const string CredentialServiceKey = "InputPipeline.Checkpointing.Gcs";

    /// <summary>The OAuth scope credentials are given: <c>https://www.googleapis.com/auth/devstorage.read_write</c>.</summary>
    public const string ReadWriteScope = "https://www.googleapis.com/auth/devstorage.read_write";

    /// <summary>The longest prefix, in UTF-8 bytes with its trailing <c>/</c>: 124, so that prefix + key fits 1,024 bytes.</summary>
    internal const int MaxPrefixBytes = 1024 - StoreKey.MaxKeyBytes;

    private const string OctetStream = "application/octet-stream";
    private const int ResumeIncomplete = 308;
    private const int MaxReadRounds = 3;
    private const string ListFields = "nextPageToken,items(name,size,generation,updated)";
    private static readonly ResiliencePropertyKey<bool> IdempotentKey = new("InputPipeline.Checkpointing.Gcs.Idempotent");
    private static readonly ResiliencePropertyKey<string> OperationKey = new("InputPipeline.Checkpointing.Gcs.Operation");
    private static readonly TimeSpan SessionCancelTimeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;
    private readonly bool _ownsHttpClient;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly Uri _baseUri;
    private readonly string _bucket;
    private readonly string _escapedBucket;
    private readonly string _prefix;
    private readonly string? _projectId;
    private readonly bool _createBucketIfMissing;
    private readonly int _resumableThreshold;
    private readonly int _chunkSize;
    private readonly int _seekableChunkSize;
    private readonly int _maxRetryAttempts;
    private readonly TimeSpan _attemptTimeout;
    private readonly SemaphoreSlim _bucketGate = new(1, 1);
    private volatile bool _bucketReady;
    private int _disposed;

    /// <summary>Creates a store with its own HTTP connections, authenticated as <paramref name="options"/> say.</summary>
    /// <param name="options">The options; validated here and not read again.</param>
    /// <param name="credential">
    /// The credential to use instead of <see cref="GcsStoreOptions.CredentialsFile"/> or application default credentials
    /// (a <see cref="GoogleCredential"/> that needs scopes is given <see cref="ReadWriteScope"/>), unless
    /// <see cref="GcsStoreOptions.Anonymous"/> is <see langword="true"/>; <see langword="null"/> (the default) uses the options.
    /// </param>
    /// <param name="loggerFactory">Creates the store's logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its configuration key.</exception>
    public GcsInputStateStore(GcsStoreOptions options, ITokenAccess? credential = null, ILoggerFactory? loggerFactory = null)
        : this(Validated(options), CreateHttpClient(options, credential), ownsHttpClient: true, loggerFactory)
    {
    }

    /// <summary>Creates a store that sends its requests through <paramref name="httpClient"/>, whose handlers must add credentials where needed.</summary>
    internal GcsInputStateStore(GcsStoreOptions options, HttpClient httpClient, bool ownsHttpClient, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(httpClient);
        Validated(options);
        _http = httpClient;
        _ownsHttpClient = ownsHttpClient;
        _logger = (ILogger?)loggerFactory?.CreateLogger<GcsInputStateStore>() ?? NullLogger.Instance;
        _baseUri = options.NormalizedBaseUri();
        _bucket = options.Bucket!;
        _escapedBucket = Uri.EscapeDataString(_bucket);
        _prefix = options.NormalizedPrefix();
        _projectId = options.ProjectId;
        _createBucketIfMissing = options.CreateBucketIfMissing;
        _resumableThreshold = options.ResumableThreshold;
        _chunkSize = options.ChunkSize;
        _seekableChunkSize = options.SeekableChunkSize;
        _maxRetryAttempts = options.MaxRetryAttempts;
        _attemptTimeout = options.AttemptTimeout;
        _pipeline = BuildPipeline(options);
    }

    /// <inheritdoc/>
    /// <value>Always <see cref="GcsProviderName"/>.</value>
    public string ProviderName => GcsProviderName;

    /// <summary>Gets the bucket.</summary>
    public string Bucket => _bucket;

    /// <summary>Gets the normalised prefix every key is stored under: empty, or ending with <c>/</c>.</summary>
    public string Prefix => _prefix;

    /// <summary>Gets the endpoint, ending with <c>/</c>.</summary>
    public Uri BaseUri => _baseUri;

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="key"/> if <paramref name="condition"/> holds, atomically:
    /// the object appears (or is replaced) only when the whole upload has completed.
    /// </summary>
    /// <param name="key">The object key; see <see cref="StoreKey.Validate(string, string)"/>.</param>
    /// <param name="content">
    /// The content, read once from its current position to its end; its length need not be known and it need not be
    /// seekable. A seekable stream longer than <see cref="GcsStoreOptions.ResumableThreshold"/> is read straight into the
    /// requests (and sought back for a resumed request) rather than through a buffer. The store does not dispose it.
    /// </param>
    /// <param name="condition">When the write may happen: always, only if the key is absent (<c>ifGenerationMatch=0</c>), or only if its generation matches.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write cancels its upload session and leaves no new object.</param>
    /// <returns>The generation of the object written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="content"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key, <paramref name="content"/> is not readable, or <paramref name="condition"/> is not a valid condition.</exception>
    /// <exception cref="CheckpointConflictException">The condition did not hold (HTTP 412); nothing was written. Also what a retried create-only write reports when its first attempt landed.</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused, the service failed after the retries, or it could not be reached.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        string name = ObjectName(key);
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanRead)
        {
            throw new ArgumentException("The content stream is not readable.", nameof(content));
        }

        long? generationMatch;
        switch (condition.Kind)
        {
            case WriteConditionKind.None:
                generationMatch = null;
                break;
            case WriteConditionKind.IfAbsent:
                generationMatch = 0;
                break;
            case WriteConditionKind.IfVersionMatches when !string.IsNullOrEmpty(condition.Version?.Value):
                generationMatch = TryParseGeneration(condition.Version.Value.Value, out long generation) ? generation : null;
                if (generationMatch is null)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new CheckpointConflictException(GcsProviderName, key, condition); // Not a generation: no object has it.
                }

                break;
            default:
                throw new ArgumentException($"The write condition {condition} is not valid: a compare-and-swap needs a version.", nameof(condition));
        }

        cancellationToken.ThrowIfCancellationRequested();
        await EnsureBucketAsync(key, cancellationToken).ConfigureAwait(false);

        long? knownLength = null;
        if (content.CanSeek)
        {
            long start = content.Position;
            knownLength = Math.Max(0, content.Length - start);
            if (knownLength > _resumableThreshold)
            {
                return await UploadKnownLengthAsync(key, name, content, start, knownLength.Value, generationMatch, condition, cancellationToken).ConfigureAwait(false);
            }
        }

        // Content of known length up to the threshold needs a buffer of its length only.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(knownLength is { } known ? (int)Math.Max(known, 1) : Math.Max(_resumableThreshold, _chunkSize));
        bool done = false;
        try
        {
            var reader = new ContentReader(content);
            int buffered = await reader.FillAsync(buffer.AsMemory(0, (int)Math.Min(_resumableThreshold, knownLength ?? _resumableThreshold)), cancellationToken).ConfigureAwait(false);
            StoreVersion version = knownLength is not null || buffered < _resumableThreshold || await reader.IsAtEndAsync(cancellationToken).ConfigureAwait(false)
                ? await UploadInOneRequestAsync(key, name, buffer.AsMemory(0, buffered), generationMatch, condition, cancellationToken).ConfigureAwait(false)
                : await UploadResumableAsync(key, name, reader, buffer, buffered, generationMatch, condition, cancellationToken).ConfigureAwait(false);
            done = true;
            return version;
        }
        finally
        {
            // After a failure a request may still be reading the buffer; then it is left to the garbage collector.
            if (done)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Opens <paramref name="key"/> for reading, from <paramref name="offset"/> to its end.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="offset">The first byte to return; 0 (the default) reads the whole object. An offset at or past the end yields empty content.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>
    /// The content and metadata of exactly the generation being returned (its <c>x-goog-generation</c>), or
    /// <see langword="null"/> when the key does not exist. The content streams from the response; a transport failure
    /// while it is read surfaces as <see cref="CheckpointStoreException"/>. The caller disposes the result.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative.</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused, the service failed after the retries, or it could not be reached.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        string name = ObjectName(key);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureBucketAsync(key, cancellationToken).ConfigureAwait(false);

        Uri uri = ObjectUri(name, "alt=media");
        for (int round = 1; ; round++)
        {
            Sent sent = await SendAsync("reading", key, idempotent: true, async attemptToken =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                if (offset > 0)
                {
                    request.Headers.Range = new RangeHeaderValue(offset, null);
                }

                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);

            switch (sent.Response.StatusCode)
            {
                case HttpStatusCode.OK or HttpStatusCode.PartialContent:
                    return await OpenDownloadAsync(sent.Response, key, offset, cancellationToken).ConfigureAwait(false);
                case HttpStatusCode.NotFound:
                    await ThrowIfBucketMissingAsync(sent, "reading", key, cancellationToken).ConfigureAwait(false);
                    return null;
                case HttpStatusCode.RequestedRangeNotSatisfiable:
                    sent.Response.Dispose();
                    GcsObjectResource? metadata = await GetMetadataAsync(key, name, cancellationToken).ConfigureAwait(false);
                    if (metadata is null)
                    {
                        return null;
                    }

                    StoreObjectInfo info = InfoOf(key, metadata);
                    if (info.Length <= offset)
                    {
                        return new StoreReadResult(new MemoryStream([], writable: false), info, offset);
                    }

                    if (round >= MaxReadRounds)
                    {
                        throw new CheckpointStoreException(GcsProviderName, key, $"reading from offset {offset} failed: the object kept changing while it was read.");
                    }

                    continue; // Replaced by a longer object meanwhile: read again.
                default:
                    throw await StoreFailureAsync(sent, "reading", key, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Lists the objects whose keys start with <paramref name="prefix"/>, paging through every page (1,000 objects per request).</summary>
    /// <param name="prefix">A key prefix; the empty string lists every object under <see cref="Prefix"/>.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The objects' keys, lengths, generations and update times, in UTF-8 byte order. Objects under <see cref="Prefix"/> whose names are not valid keys are skipped.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prefix"/> is null.</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused, the service failed after the retries, or it could not be reached.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return ListCoreAsync(prefix, cancellationToken);
    }

    /// <summary>Deletes <paramref name="key"/>, optionally only if its generation is <paramref name="ifVersion"/> (<c>ifGenerationMatch</c>).</summary>
    /// <param name="key">The object key.</param>
    /// <param name="ifVersion">When set, delete only if the object's current generation matches; <see langword="null"/> (the default) deletes unconditionally.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>
    /// <see langword="true"/> if an object was deleted; <see langword="false"/> if the key did not exist (including
    /// when a retried conditional delete finds that its first attempt had already deleted it).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key, or <paramref name="ifVersion"/> is an empty version.</exception>
    /// <exception cref="CheckpointConflictException">The object exists but its generation differs from <paramref name="ifVersion"/> (HTTP 412).</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, the credentials were refused, the service failed after the retries, or it could not be reached.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        string name = ObjectName(key);
        if (ifVersion is { } required && string.IsNullOrEmpty(required.Value))
        {
            throw new ArgumentException("The version is empty.", nameof(ifVersion));
        }

        cancellationToken.ThrowIfCancellationRequested();
        await EnsureBucketAsync(key, cancellationToken).ConfigureAwait(false);

        long? generationMatch = null;
        if (ifVersion is { } expected)
        {
            if (!TryParseGeneration(expected.Value, out long generation))
            {
                // Not a generation: no object has it, so the delete fails if the object exists.
                return await GetMetadataAsync(key, name, cancellationToken).ConfigureAwait(false) is null
                    ? false
                    : throw new CheckpointConflictException(GcsProviderName, key, WriteCondition.IfVersionMatches(expected));
            }

            generationMatch = generation;
        }

        Uri uri = ObjectUri(name, generationMatch is { } g ? string.Create(CultureInfo.InvariantCulture, $"ifGenerationMatch={g}") : null);
        Sent sent = await SendAsync("deleting", key, idempotent: generationMatch is not null, async attemptToken =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, uri);
            return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        switch (sent.Response.StatusCode)
        {
            case HttpStatusCode.NoContent or HttpStatusCode.OK:
                sent.Response.Dispose();
                return true;
            case HttpStatusCode.NotFound:
                await ThrowIfBucketMissingAsync(sent, "deleting", key, cancellationToken).ConfigureAwait(false);
                return false;
            case HttpStatusCode.PreconditionFailed:
                throw await ConflictAsync(sent, key, WriteCondition.IfVersionMatches(ifVersion!.Value), cancellationToken).ConfigureAwait(false);
            default:
                throw await StoreFailureAsync(sent, "deleting", key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Releases the HTTP connections the store created; a store given its client by dependency injection leaves the client alone.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_ownsHttpClient)
        {
            _http.Dispose();
        }

        _bucketGate.Dispose();
    }

    /// <summary>Returns a readable description, for example <c>Gcs store gs://bucket/prefix/ at https://storage.googleapis.com/</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => $"{GcsProviderName} store gs://{_bucket}/{_prefix} at {_baseUri}";

    /// <summary>Creates the HTTP handler that sends the store's requests: no redirects (a resumable chunk answers 308), no decompression, pooled connections renewed every few minutes.</summary>
    internal static SocketsHttpHandler CreatePrimaryHandler() => new()
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        UseCookies = false,
    };

    private static GcsStoreOptions Validated(GcsStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (GcsOptionFailure failure in GcsStoreOptionsValidator.Check(options))
        {
            throw failure.ToException();
        }

        return options;
    }

    private static HttpClient CreateHttpClient(GcsStoreOptions options, ITokenAccess? credential)
    {
        var credentials = new GcsCredentialSource(options, credential);
        HttpMessageHandler handler = CreatePrimaryHandler();
        if (!credentials.IsAnonymous)
        {
            handler = new GcsAuthenticationHandler(credentials, options.NormalizedBaseUri()) { InnerHandler = handler };
        }

        return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private static bool TryParseGeneration(string? value, out long generation) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out generation) && generation > 0;

    private static string Precondition(long? generationMatch) =>
        generationMatch is { } g ? string.Create(CultureInfo.InvariantCulture, $"&ifGenerationMatch={g}") : string.Empty;

    private static string AfterAttempts(int attempts) =>
        attempts > 1 ? string.Create(CultureInfo.InvariantCulture, $" after {attempts} attempts") : string.Empty;

    /// <summary>Whether an outcome is a transient failure worth retrying, given whether the request is safe to repeat.</summary>
    private static bool IsTransient(Outcome<HttpResponseMessage> outcome, bool idempotent) => outcome.Exception switch
    {
        null => IsTransient(outcome.Result!.StatusCode, idempotent),
        HttpRequestException ex => idempotent || NotSent(ex),
        TimeoutRejectedException or IOException => idempotent,
        _ => false,
    };

    private static bool IsTransient(HttpStatusCode status, bool idempotent) =>
        status == HttpStatusCode.TooManyRequests
        || (idempotent && (status == HttpStatusCode.RequestTimeout || (int)status >= 500));

    /// <summary>Whether a request failed before it reached the service (so even a non-idempotent one may be sent again).</summary>
    private static bool NotSent(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError;

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } ex
            ? ex is TimeoutRejectedException ? "an attempt timeout" : $"{ex.GetType().Name}: {ex.Message}"
            : $"HTTP {(int)outcome.Result!.StatusCode} {outcome.Result.ReasonPhrase}";

    private static StoreObjectInfo InfoOf(string key, GcsObjectResource resource) =>
        new(
            key,
            long.TryParse(resource.Size, NumberStyles.None, CultureInfo.InvariantCulture, out long size) ? size : 0,
            TryParseGeneration(resource.Generation, out _)
                ? new StoreVersion(resource.Generation!)
                : throw new CheckpointStoreException(GcsProviderName, key, "the service described the object without its generation."),
            resource.Updated ?? DateTimeOffset.UnixEpoch);

    private static MultipartContent MultipartBody(byte[] metadata, ReadOnlyMemory<byte> data)
    {
        var metadataPart = new ByteArrayContent(metadata);
        metadataPart.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
        var mediaPart = new ReadOnlyMemoryContent(data);
        mediaPart.Headers.ContentType = new MediaTypeHeaderValue(OctetStream);
        return new MultipartContent("related", "ipc_" + Guid.NewGuid().ToString("N")) { metadataPart, mediaPart };
    }

    private ResiliencePipeline<HttpResponseMessage> BuildPipeline(GcsStoreOptions options)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (options.MaxRetryAttempts > 0)
        {
            TimeSpan maxDelay = options.MaxRetryDelay;
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = maxDelay,
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome, args.Context.Properties.GetValue(IdempotentKey, false))),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.Headers.RetryAfter?.Delta is { } retryAfter
                    ? (TimeSpan?)(retryAfter < maxDelay ? retryAfter : maxDelay)
                    : null),
                OnRetry = args =>
                {
                    Log.Retrying(_logger, args.Context.Properties.GetValue(OperationKey, "a request"), args.AttemptNumber + 1, options.MaxRetryAttempts, args.RetryDelay, Describe(args.Outcome));
                    return default;
                },
            });
        }

        builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }

    /// <summary>
    /// Sends a request through the retry pipeline: <paramref name="attempt"/> builds and sends one attempt. Returns the
    /// final response, whatever its status; throws <see cref="CheckpointStoreException"/> when no response came.
    /// </summary>
    private async Task<Sent> SendAsync(string operation, string? key, bool idempotent, Func<CancellationToken, Task<HttpResponseMessage>> attempt, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ResilienceContext context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(IdempotentKey, idempotent);
        context.Properties.Set(OperationKey, operation);
        int attempts = 0;
        try
        {
            HttpResponseMessage response = await _pipeline.ExecuteAsync(
                async ctx =>
                {
                    attempts++;
                    return await attempt(ctx.CancellationToken).ConfigureAwait(false);
                },
                context).ConfigureAwait(false);
            if (attempts > 1 && IsTransient(response.StatusCode, idempotent))
            {
                Log.RetriesExhausted(_logger, operation, key, attempts, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            return new Sent(response, attempts);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (GcsCredentialException ex)
        {
            throw new CheckpointStoreException(GcsProviderName, key, $"{operation} failed: no credentials: {ex.Message}", ex.InnerException ?? ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutRejectedException or OperationCanceledException or IOException)
        {
            string cause = ex is TimeoutRejectedException
                ? $"no response within {_attemptTimeout} (AttemptTimeout) from {_baseUri}"
                : $"{_baseUri} could not be reached: {ex.Message}";
            if (attempts > 1)
            {
                Log.RetriesExhausted(_logger, operation, key, attempts, cause);
            }

            throw new CheckpointStoreException(GcsProviderName, key, $"{operation} failed{AfterAttempts(attempts)}: {cause}", ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private string ObjectName(string key)
    {
        StoreKey.Validate(key, nameof(key));
        return _prefix + key;
    }

    private Uri ObjectUri(string name, string? query) =>
        new(_baseUri, $"storage/v1/b/{_escapedBucket}/o/{Uri.EscapeDataString(name)}{(query is null ? string.Empty : "?" + query)}");

    private Uri UploadUri(string uploadType, long? generationMatch) =>
        new(_baseUri, $"upload/storage/v1/b/{_escapedBucket}/o?uploadType={uploadType}{Precondition(generationMatch)}");

    private async Task<StoreVersion> UploadInOneRequestAsync(string key, string name, ReadOnlyMemory<byte> data, long? generationMatch, WriteCondition condition, CancellationToken cancellationToken)
    {
#pragma warning disable CA5351 // MD5 is the integrity check the JSON API verifies (md5Hash), not a security measure.
        string md5 = Convert.ToBase64String(MD5.HashData(data.Span));
#pragma warning restore CA5351
        byte[] metadata = JsonSerializer.SerializeToUtf8Bytes(new GcsObjectInsert { Name = name, ContentType = OctetStream, Md5Hash = md5 }, GcsJsonContext.Default.GcsObjectInsert);
        Uri uri = UploadUri("multipart", generationMatch);
        Sent sent = await SendAsync("writing", key, idempotent: generationMatch is not null, async attemptToken =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = MultipartBody(metadata, data) };
            return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return await WrittenVersionAsync(sent, "writing", key, condition, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Uploads content of unknown length through a resumable session: whole <see cref="GcsStoreOptions.ChunkSize"/>
    /// chunks (and a final one of the rest), each sent from one of two buffers while the next chunk fills the other, so
    /// reading the content overlaps the upload. <paramref name="buffer"/> holds the first <paramref name="buffered"/>
    /// bytes, which the caller found not to be the whole content; the caller returns it to the pool.
    /// </summary>
    private async Task<StoreVersion> UploadResumableAsync(string key, string name, ContentReader reader, byte[] buffer, int buffered, long? generationMatch, WriteCondition condition, CancellationToken cancellationToken)
    {
        Uri session = await StartSessionAsync(key, name, generationMatch, condition, cancellationToken).ConfigureAwait(false);
        byte[] second = ArrayPool<byte>.Shared.Rent(_chunkSize);
        Task<(int Count, bool Ended)>? filling = null;
        bool completed = false;
        try
        {
            byte[] current = buffer;
            byte[] next = second;
            int count = buffered;
            bool ended = false;
            long offset = 0; // the object offset of current[0]
            while (true)
            {
                // Whole chunks go now; a partial one waits for the next fill, which continues it, unless the content ended.
                int sending = ended ? count : count - (count % _chunkSize);
                int carried = count - sending;
                Buffer.BlockCopy(current, sending, next, 0, carried);
                filling = ended ? null : FillChunkAsync(reader, next, carried, cancellationToken);

                byte[] sent = current;
                long sentOffset = offset;
                StoreVersion? version = await SendRangeAsync(
                    key,
                    session,
                    (at, length) => new ReadOnlyMemoryContent(sent.AsMemory((int)(at - sentOffset), (int)length)),
                    offset,
                    offset + sending,
                    _chunkSize,
                    ended ? offset + sending : null,
                    condition,
                    cancellationToken).ConfigureAwait(false);
                if (version is { } written)
                {
                    completed = true;
                    return written;
                }

                if (filling is null)
                {
                    throw new CheckpointStoreException(GcsProviderName, key, "writing failed: the upload session did not complete after the last chunk.");
                }

                offset += sending;
                (count, ended) = await filling.ConfigureAwait(false);
                filling = null;
                (current, next) = (next, current);
            }
        }
        finally
        {
            if (filling is not null)
            {
                // Let a fill in progress finish before the buffers are given up; the write already fails for its own reason.
                try
                {
                    await filling.ConfigureAwait(false);
                }
#pragma warning disable CA1031
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }

            if (!completed)
            {
                await CancelSessionAsync(session, key).ConfigureAwait(false);
            }
            else
            {
                // After a failure a request may still be reading a buffer; then it is left to the garbage collector.
                ArrayPool<byte>.Shared.Return(second);
            }
        }
    }

    /// <summary>Fills <paramref name="buffer"/> after its first <paramref name="carried"/> bytes up to a whole chunk; returns its length and whether the content ended there.</summary>
    private async Task<(int Count, bool Ended)> FillChunkAsync(ContentReader reader, byte[] buffer, int carried, CancellationToken cancellationToken)
    {
        int count = carried + await reader.FillAsync(buffer.AsMemory(carried, _chunkSize - carried), cancellationToken).ConfigureAwait(false);
        bool ended = count < _chunkSize || await reader.IsAtEndAsync(cancellationToken).ConfigureAwait(false);
        return (count, ended);
    }

    /// <summary>
    /// Uploads <paramref name="length"/> bytes of seekable <paramref name="content"/> from <paramref name="start"/> through
    /// a resumable session that declares the length: requests of up to <see cref="GcsStoreOptions.SeekableChunkSize"/>
    /// bytes read straight from the content, each resumed from what the session holds after a failure.
    /// </summary>
    private async Task<StoreVersion> UploadKnownLengthAsync(string key, string name, Stream content, long start, long length, long? generationMatch, WriteCondition condition, CancellationToken cancellationToken)
    {
        Uri session = await StartSessionAsync(key, name, generationMatch, condition, cancellationToken, length).ConfigureAwait(false);
        var window = new SeekableContentWindow(content, start);
        bool completed = false;
        try
        {
            StoreVersion version = await SendRangeAsync(key, session, window.Body, 0, length, _seekableChunkSize, length, condition, cancellationToken).ConfigureAwait(false)
                ?? throw new CheckpointStoreException(GcsProviderName, key, "writing failed: the upload session did not complete after the last chunk.");
            completed = true;
            return version;
        }
        finally
        {
            window.Close();
            if (!completed)
            {
                await CancelSessionAsync(session, key).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Sends bytes <paramref name="from"/> to <paramref name="end"/> of the object to a session, in requests of up to
    /// <paramref name="requestSize"/> bytes whose bodies <paramref name="body"/> makes, each continued from what the
    /// session holds. With the object's <paramref name="total"/> length known, every request declares it, and the
    /// request that reaches it finishes the upload. Returns the object's version once the upload completed, else
    /// <see langword="null"/> once the session holds everything up to <paramref name="end"/>.
    /// </summary>
    private async Task<StoreVersion?> SendRangeAsync(string key, Uri session, Func<long, long, HttpContent> body, long from, long end, int requestSize, long? total, WriteCondition condition, CancellationToken cancellationToken)
    {
        long at = from;
        int stalls = 0;
        while (at < end || total == end) // at the end of the object, an empty request (a status query) finishes the upload
        {
            long sending = Math.Min(requestSize, end - at);
            (StoreVersion? version, long persisted) = await PutChunkAsync(key, session, body, at, sending, total, condition, cancellationToken).ConfigureAwait(false);
            if (version is { } written)
            {
                return written;
            }

            long advanced = persisted - at;
            if (advanced < 0 || advanced > sending)
            {
                throw new CheckpointStoreException(GcsProviderName, key, string.Create(CultureInfo.InvariantCulture, $"writing failed: the upload session reports {persisted} bytes received, but {at} to {at + sending} were sent."));
            }

            stalls = advanced == 0 ? stalls + 1 : 0;
            if (stalls > _maxRetryAttempts + 1)
            {
                throw new CheckpointStoreException(GcsProviderName, key, string.Create(CultureInfo.InvariantCulture, $"writing failed: the upload session keeps persisting nothing past byte {persisted}."));
            }

            at = persisted;
        }

        return null;
    }

    private async Task<Uri> StartSessionAsync(string key, string name, long? generationMatch, WriteCondition condition, CancellationToken cancellationToken, long? length = null)
    {
        byte[] metadata = JsonSerializer.SerializeToUtf8Bytes(new GcsObjectInsert { Name = name, ContentType = OctetStream }, GcsJsonContext.Default.GcsObjectInsert);
        Uri uri = UploadUri("resumable", generationMatch);
        Sent sent = await SendAsync("starting a resumable upload", key, idempotent: true, async attemptToken =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(metadata) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
            request.Headers.TryAddWithoutValidation("X-Upload-Content-Type", OctetStream);
            if (length is { } declared)
            {
                request.Headers.TryAddWithoutValidation("X-Upload-Content-Length", declared.ToString(CultureInfo.InvariantCulture));
            }
            return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        switch (sent.Response.StatusCode)
        {
            case HttpStatusCode.OK or HttpStatusCode.Created:
                using (sent.Response)
                {
                    return sent.Response.Headers.Location is { } location
                        ? location.IsAbsoluteUri ? location : new Uri(_baseUri, location)
                        : throw new CheckpointStoreException(GcsProviderName, key, "starting a resumable upload failed: the response has no Location header.");
                }

            case HttpStatusCode.PreconditionFailed:
                throw await ConflictAsync(sent, key, condition, cancellationToken).ConfigureAwait(false);
            default:
                throw await StoreFailureAsync(sent, "starting a resumable upload", key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends one chunk, bytes <paramref name="offset"/> to <paramref name="offset"/> + <paramref name="count"/> of the
    /// object, whose body <paramref name="body"/> makes (given an object offset and a length); or, for an empty final
    /// chunk, the total length. Returns the object's version once the upload completed, else how many bytes the session
    /// holds. A retry first asks the session what it holds (a status query, as the resumable protocol prescribes) and
    /// sends only the rest of the chunk.
    /// </summary>
    private async Task<(StoreVersion? Version, long Persisted)> PutChunkAsync(string key, Uri session, Func<long, long, HttpContent> body, long offset, long count, long? total, WriteCondition condition, CancellationToken cancellationToken)
    {
        int attempt = 0;
        Sent sent = await SendAsync("uploading a chunk", key, idempotent: true, async attemptToken =>
        {
            long from = offset;
            if (++attempt > 1)
            {
                HttpResponseMessage status = await SendChunkAsync(session, null, from, 0, total, attemptToken).ConfigureAwait(false);
                long persisted = (int)status.StatusCode == ResumeIncomplete ? PersistedBytes(status) : -1;
                if (persisted < offset || persisted >= offset + count)
                {
                    return status; // finished, failed again, or nothing of this chunk left to send: judged by the caller
                }

                status.Dispose();
                from = persisted;
            }

            long rest = offset + count - from;
            return await SendChunkAsync(session, rest == 0 ? null : body(from, rest), from, rest, total, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        switch ((int)sent.Response.StatusCode)
        {
            case 200 or 201:
                return (await WrittenVersionAsync(sent, "writing", key, condition, cancellationToken).ConfigureAwait(false), 0);
            case ResumeIncomplete:
                using (sent.Response)
                {
                    return (null, PersistedBytes(sent.Response));
                }

            case 412:
                throw await ConflictAsync(sent, key, condition, cancellationToken).ConfigureAwait(false);
            case 404 or 410:
                sent.Response.Dispose();
                throw new CheckpointStoreException(GcsProviderName, key, $"writing failed: the resumable upload session is gone (HTTP {(int)sent.Response.StatusCode}); it expired or was cancelled.");
            default:
                throw await StoreFailureAsync(sent, "uploading a chunk", key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// PUTs <paramref name="body"/> (<paramref name="count"/> bytes) at <paramref name="from"/> to a session; no body is a
    /// status query (which finishes an upload whose bytes all arrived).
    /// </summary>
    private async Task<HttpResponseMessage> SendChunkAsync(Uri session, HttpContent? body, long from, long count, long? total, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, session) { Content = body ?? new ByteArrayContent([]) };
        if (body is not null)
        {
            request.Content.Headers.ContentRange = total is { } length
                ? new ContentRangeHeaderValue(from, from + count - 1, length)
                : new ContentRangeHeaderValue(from, from + count - 1);
        }
        else if (total is { } length)
        {
            request.Content.Headers.ContentRange = new ContentRangeHeaderValue(length);
        }
        else
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Range", "bytes */*");
        }

        return await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the <c>Range: bytes=0-N</c> header of a 308 answer: N + 1 bytes persisted, or 0 without the header.</summary>
    private static long PersistedBytes(HttpResponseMessage response)
    {
        foreach (KeyValuePair<string, HeaderStringValues> header in response.Headers.NonValidated)
        {
            if (!string.Equals(header.Key, "Range", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (string value in header.Value)
            {
                int dash = value.LastIndexOf('-');
                if (value.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) && dash > 0
                    && long.TryParse(value.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long last))
                {
                    return last + 1;
                }
            }
        }

        return 0;
    }

    private async Task CancelSessionAsync(Uri session, string key)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_attemptTimeout < SessionCancelTimeout ? _attemptTimeout : SessionCancelTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Delete, session);
            using HttpResponseMessage response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            Log.UploadSessionCancelled(_logger, key, (int)response.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or GcsCredentialException)
        {
            Log.UploadSessionCancelFailed(_logger, key, ex);
        }
    }

    private async Task<StoreVersion> WrittenVersionAsync(Sent sent, string operation, string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        switch (sent.Response.StatusCode)
        {
            case HttpStatusCode.OK or HttpStatusCode.Created:
                GcsObjectResource resource = await ReadResourceAsync(sent, operation, key, GcsJsonContext.Default.GcsObjectResource, cancellationToken).ConfigureAwait(false);
                return TryParseGeneration(resource.Generation, out _)
                    ? new StoreVersion(resource.Generation!)
                    : throw new CheckpointStoreException(GcsProviderName, key, $"{operation} failed: the service answered without the object's generation.");
            case HttpStatusCode.PreconditionFailed:
                throw await ConflictAsync(sent, key, condition, cancellationToken).ConfigureAwait(false);
            default:
                throw await StoreFailureAsync(sent, operation, key, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<T> ReadResourceAsync<T>(Sent sent, string operation, string? key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        using HttpResponseMessage response = sent.Response;
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(body, type, cancellationToken).ConfigureAwait(false)
                    ?? throw new JsonException("The response body is null.");
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is JsonException or IOException or HttpRequestException or OperationCanceledException)
        {
            throw new CheckpointStoreException(GcsProviderName, key, $"{operation} failed: the response could not be read: {ex.Message}", ex);
        }
    }

    private async Task<StoreReadResult> OpenDownloadAsync(HttpResponseMessage response, string key, long offset, CancellationToken cancellationToken)
    {
        try
        {
            string? generation = response.Headers.TryGetValues("x-goog-generation", out IEnumerable<string>? values) ? values.FirstOrDefault() : null;
            if (!TryParseGeneration(generation, out _))
            {
                throw new CheckpointStoreException(GcsProviderName, key, "reading failed: the response has no x-goog-generation header.");
            }

            long? length = response.StatusCode == HttpStatusCode.PartialContent
                ? response.Content.Headers.ContentRange?.Length
                : offset == 0 ? StoredLength(response) : throw new CheckpointStoreException(GcsProviderName, key, "reading failed: the service ignored the Range header.");
            if (length is null)
            {
                throw new CheckpointStoreException(GcsProviderName, key, "reading failed: the response does not tell the object's length.");
            }

            DateTimeOffset modified = response.Content.Headers.LastModified ?? response.Headers.Date ?? DateTimeOffset.UtcNow;
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var info = new StoreObjectInfo(key, length.Value, new StoreVersion(generation!), modified);
            return new StoreReadResult(new GcsDownloadStream(response, body, key, _attemptTimeout), info, offset);
        }
        catch (Exception ex)
        {
            response.Dispose();
            if (ex is HttpRequestException or IOException)
            {
                throw new CheckpointStoreException(GcsProviderName, key, $"reading failed: {ex.Message}", ex);
            }

            throw;
        }
    }

    private static long? StoredLength(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-goog-stored-content-length", out IEnumerable<string>? values)
        && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out long stored)
            ? stored
            : response.Content.Headers.ContentLength;

    /// <summary>Returns an object's metadata, or <see langword="null"/> when it does not exist.</summary>
    private async Task<GcsObjectResource?> GetMetadataAsync(string key, string name, CancellationToken cancellationToken)
    {
        Uri uri = ObjectUri(name, "projection=noAcl");
        Sent sent = await SendAsync("reading metadata", key, idempotent: true, async attemptToken =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        switch (sent.Response.StatusCode)
        {
            case HttpStatusCode.OK:
                return await ReadResourceAsync(sent, "reading metadata", key, GcsJsonContext.Default.GcsObjectResource, cancellationToken).ConfigureAwait(false);
            case HttpStatusCode.NotFound:
                await ThrowIfBucketMissingAsync(sent, "reading metadata", key, cancellationToken).ConfigureAwait(false);
                return null;
            default:
                throw await StoreFailureAsync(sent, "reading metadata", key, cancellationToken).ConfigureAwait(false);
        }
    }

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureBucketAsync(null, cancellationToken).ConfigureAwait(false);
        string operation = $"listing prefix \"{prefix}\"";
        string fullPrefix = _prefix + prefix;
        string query = $"storage/v1/b/{_escapedBucket}/o?maxResults=1000&projection=noAcl&fields={Uri.EscapeDataString(ListFields)}"
            + (fullPrefix.Length == 0 ? string.Empty : "&prefix=" + Uri.EscapeDataString(fullPrefix));
        string? pageToken = null;
        do
        {
            var uri = new Uri(_baseUri, pageToken is null ? query : query + "&pageToken=" + Uri.EscapeDataString(pageToken));
            GcsObjectList page = await ListPageAsync(uri, operation, cancellationToken).ConfigureAwait(false);
            foreach (GcsObjectResource item in page.Items ?? [])
            {
                if (item.Name is { } name && name.StartsWith(fullPrefix, StringComparison.Ordinal)
                    && TryParseGeneration(item.Generation, out _) && StoreKey.IsValid(name[_prefix.Length..]))
                {
                    yield return InfoOf(name[_prefix.Length..], item);
                }
            }

            pageToken = string.IsNullOrEmpty(page.NextPageToken) ? null : page.NextPageToken;
        }
        while (pageToken is not null);
    }

    private async Task<GcsObjectList> ListPageAsync(Uri uri, string operation, CancellationToken cancellationToken)
    {
        Sent sent = await SendAsync(operation, null, idempotent: true, async attemptToken =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return sent.Response.StatusCode == HttpStatusCode.OK
            ? await ReadResourceAsync(sent, operation, null, GcsJsonContext.Default.GcsObjectList, cancellationToken).ConfigureAwait(false)
            : throw await StoreFailureAsync(sent, operation, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>On first use, checks that the bucket exists, creating it when allowed; later calls return at once.</summary>
    private async Task EnsureBucketAsync(string? key, CancellationToken cancellationToken)
    {
        if (_bucketReady)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _bucketGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_bucketReady)
            {
                return;
            }

            const string Operation = "checking the bucket";
            Uri uri = new(_baseUri, $"storage/v1/b/{_escapedBucket}?fields=name");
            Sent sent = await SendAsync(Operation, key, idempotent: true, async attemptToken =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);

            switch (sent.Response.StatusCode)
            {
                case HttpStatusCode.OK:
                    sent.Response.Dispose();
                    break;
                case HttpStatusCode.Forbidden:
                    // Object roles (roles/storage.objectAdmin) do not include storage.buckets.get: go on, the object requests will tell.
                    sent.Response.Dispose();
                    Log.BucketNotInspectable(_logger, _bucket);
                    break;
                case HttpStatusCode.NotFound when _createBucketIfMissing:
                    sent.Response.Dispose();
                    await CreateBucketAsync(key, cancellationToken).ConfigureAwait(false);
                    break;
                case HttpStatusCode.NotFound:
                    sent.Response.Dispose();
                    throw BucketMissing(key);
                default:
                    throw await StoreFailureAsync(sent, Operation, key, cancellationToken).ConfigureAwait(false);
            }

            _bucketReady = true;
        }
        finally
        {
            _bucketGate.Release();
        }
    }

    private async Task CreateBucketAsync(string? key, CancellationToken cancellationToken)
    {
        string operation = $"creating the bucket \"{_bucket}\" in project \"{_projectId}\"";
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new GcsBucketInsert { Name = _bucket }, GcsJsonContext.Default.GcsBucketInsert);
        Uri uri = new(_baseUri, $"storage/v1/b?project={Uri.EscapeDataString(_projectId!)}&fields=name");
        Sent sent = await SendAsync(operation, key, idempotent: true, async attemptToken =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
            return await _http.SendAsync(request, attemptToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        switch (sent.Response.StatusCode)
        {
            case HttpStatusCode.OK:
                sent.Response.Dispose();
                Log.BucketCreated(_logger, _bucket, _projectId!);
                break;
            case HttpStatusCode.Conflict:
                // Created meanwhile by another writer, or by an earlier attempt of this request.
                sent.Response.Dispose();
                Log.BucketAlreadyCreated(_logger, _bucket);
                break;
            default:
                throw await StoreFailureAsync(sent, operation, key, cancellationToken).ConfigureAwait(false);
        }
    }

    private CheckpointStoreException BucketMissing(string? key)
    {
        _bucketReady = false;
        return new CheckpointStoreException(
            GcsProviderName,
            key,
            $"the bucket \"{_bucket}\" does not exist at {_baseUri}. Create it, or set {GcsStoreOptions.SectionPath}:CreateBucketIfMissing to true (with {GcsStoreOptions.SectionPath}:ProjectId).");
    }

    /// <summary>For a 404 answer: throws when it says the bucket is missing; otherwise disposes the response (the object is missing).</summary>
    private async Task ThrowIfBucketMissingAsync(Sent sent, string operation, string key, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = sent.Response;
        GcsError error = await GcsError.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        if (error.IsBucketNotFound)
        {
            _bucketReady = false;
            throw new CheckpointStoreException(GcsProviderName, key, $"{operation} failed: the bucket \"{_bucket}\" does not exist at {_baseUri}.", new HttpRequestException(error.Message, null, error.Status));
        }
    }

    private static async Task<CheckpointConflictException> ConflictAsync(Sent sent, string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = sent.Response;
        GcsError error = await GcsError.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return new CheckpointConflictException(GcsProviderName, key, condition, new HttpRequestException($"HTTP 412 ({error.Reason}): {error.Message}", null, error.Status));
    }

    private async Task<CheckpointStoreException> StoreFailureAsync(Sent sent, string operation, string? key, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = sent.Response;
        GcsError error = await GcsError.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        var inner = new HttpRequestException($"HTTP {(int)error.Status} ({error.Reason}): {error.Message}", null, error.Status);
        if (error.IsBucketNotFound)
        {
            _bucketReady = false;
            return new CheckpointStoreException(GcsProviderName, key, $"{operation} failed: the bucket \"{_bucket}\" does not exist at {_baseUri}.", inner);
        }

        string hint = error.Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            ? " Check the credentials (CredentialsFile or application default credentials) and their roles on the bucket (for example roles/storage.objectAdmin)."
            : string.Empty;
        string reason = error.Reason is null ? string.Empty : $" {error.Reason}";
        return new CheckpointStoreException(GcsProviderName, key, $"{operation} failed{AfterAttempts(sent.Attempts)}: HTTP {(int)error.Status}{reason}: {error.Message}{hint}", inner);
    }

    /// <summary>The final response of a request and the number of attempts it took.</summary>
    private readonly record struct Sent(HttpResponseMessage Response, int Attempts);
}
