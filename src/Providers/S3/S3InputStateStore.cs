using System.Globalization;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using InputPipeline.Checkpointing.Providers.Internal;
using InputPipeline.Checkpointing.S3.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.S3;

/// <summary>
/// An <see cref="IInputStateStore"/> over an Amazon S3 bucket (or an S3-compatible service: MinIO, Ceph, Cloudflare R2,
/// moto), on AWSSDK.S3. Each key is the object <c>&lt;Prefix&gt;&lt;key&gt;</c>; versions are ETags.
/// </summary>
/// <remarks>
/// <para>
/// Conditions map to S3's conditional requests: a create-only write sends <c>If-None-Match: *</c>, a compare-and-swap
/// <c>If-Match: &lt;ETag&gt;</c>; 412 <c>PreconditionFailed</c>, 409 <c>ConditionalRequestConflict</c> and (for a
/// compare-and-swap) 404 on a missing key become <see cref="CheckpointConflictException"/>.
/// </para>
/// <para>
/// Content of known length (a seekable stream) is sent straight from the stream, with no buffer: one <c>PutObject</c>
/// up to <see cref="S3StoreOptions.SeekableMultipartThreshold"/> bytes, else a multipart upload of
/// <see cref="S3StoreOptions.PartSize"/> parts. For content of unknown length (a non-seekable stream) the store reads up
/// to <see cref="S3StoreOptions.MultipartThreshold"/> bytes into a pooled buffer; if the content ends there it is one
/// <c>PutObject</c>, otherwise a multipart upload of pooled <see cref="S3StoreOptions.PartSize"/> buffers (one part
/// uploads while the next fills). A multipart upload's condition is sent on <c>CompleteMultipartUpload</c>, so no
/// object is visible before the whole content is; any failure or cancellation aborts the upload, leaving no parts behind.
/// </para>
/// <para>
/// Whole-object reads are sent as the range <c>bytes=0-</c> when <see cref="S3StoreOptions.ResponseChecksumValidation"/>
/// is <c>WHEN_REQUIRED</c> (the default), so the SDK spends no CPU re-checking content the checkpoint manager verifies itself.
/// </para>
/// <para>
/// Identical content gives identical ETags (the MD5 of a single-request upload), so a compare-and-swap cannot tell a
/// rewrite with the same bytes from no write; the checkpoint manager always changes the state file's content.
/// </para>
/// <para>The store is thread-safe. Dispose it to release the SDK client it created (a client it was given is not disposed).</para>
/// </remarks>
public sealed class S3InputStateStore : IInputStateStore, IDisposable
{
    /// <summary>The provider name, <c>S3</c>: the value of <see cref="ProviderName"/> and of <c>InputPipelineCheckpointing:Provider</c> that selects this store.</summary>
    public const string S3ProviderName = "S3";

    /// <summary>
    /// The service key, <c>InputPipelineCheckpointing:S3</c>, under which <c>AddS3Store()</c> looks for an
    /// <see cref="IAmazonS3"/> the application registered as a keyed service, to use it instead of creating a client.
    /// </summary>
    public const string ClientServiceKey = "InputPipelineCheckpointing:S3";

    /// <summary>The most parts a multipart upload may have: 10,000.</summary>
    public const int MaxPartCount = 10_000;

    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly int _threshold;
    private readonly int _partSize;
    private readonly int _seekableThreshold;
    private readonly bool _rangedWholeReads;
    private readonly ChecksumAlgorithm? _partChecksum;
    private readonly S3Calls _s3;
    private readonly OnceGate? _bucketReady;

    private const int InitialBufferSize = 64 * 1024;
    private const int MaxDeleteAttempts = 3;

    /// <summary>
    /// Creates a store with its own SDK client, configured from <paramref name="options"/> (see
    /// <see cref="CreateClientConfig"/>), with <paramref name="credentials"/> or else the standard AWS credential chain.
    /// </summary>
    /// <param name="options">The options; validated here and copied.</param>
    /// <param name="credentials">The credentials; <see langword="null"/> (the default) resolves them with the standard AWS chain (or <see cref="S3StoreOptions.Profile"/>) on the first request.</param>
    /// <param name="logger">The logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its key.</exception>
    public S3InputStateStore(S3StoreOptions options, AWSCredentials? credentials = null, ILogger<S3InputStateStore>? logger = null)
        : this(CreateClient(options, credentials), ownsClient: true, options, logger)
    {
    }

    /// <summary>
    /// Creates a store over an SDK client the application created (its endpoint, region, credentials and retry
    /// settings apply; the endpoint, retry and checksum options in <paramref name="options"/> are not used).
    /// The store does not dispose <paramref name="client"/>.
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="options">The options (bucket, prefix, bucket creation, encryption, multipart sizes); validated here and copied.</param>
    /// <param name="logger">The logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="client"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its key.</exception>
    public S3InputStateStore(IAmazonS3 client, S3StoreOptions options, ILogger<S3InputStateStore>? logger = null)
        : this(client ?? throw new ArgumentNullException(nameof(client)), ownsClient: false, options, logger)
    {
    }

    private S3InputStateStore(IAmazonS3 client, bool ownsClient, S3StoreOptions options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        S3StoreOptionsValidator.ThrowIfInvalid(options);
        _client = client;
        _ownsClient = ownsClient;
        _bucket = options.Bucket!;
        _prefix = options.NormalizedPrefix;
        _threshold = options.MultipartThreshold;
        _partSize = options.PartSize;
        _seekableThreshold = options.SeekableMultipartThreshold;
        _rangedWholeReads = (ownsClient ? options.ResponseChecksumValidation : client.Config.ResponseChecksumValidation) == ResponseChecksumValidation.WHEN_REQUIRED;
        _partChecksum = options.RequestChecksumCalculation == RequestChecksumCalculation.WHEN_SUPPORTED ? ChecksumAlgorithm.CRC32 : null;
        _s3 = new S3Calls(
            client,
            _bucket,
            (ownsClient ? options.MaxErrorRetry : client.Config.MaxErrorRetry) + 1,
            S3StoreOptionsValidator.CanonicalEncryption(options.ServerSideEncryption) is { } sse ? ServerSideEncryptionMethod.FindValue(sse) : null,
            string.IsNullOrEmpty(options.KmsKeyId) ? null : options.KmsKeyId,
            logger ?? NullLogger.Instance);
        _bucketReady = options.CreateBucketIfMissing ? new OnceGate(_s3.CreateBucketIfMissingAsync) : null;
    }

    /// <inheritdoc/>
    /// <value>Always <see cref="S3ProviderName"/>.</value>
    public string ProviderName => S3ProviderName;

    /// <summary>Gets the bucket.</summary>
    public string BucketName => _bucket;

    /// <summary>Gets the normalised key prefix every object lives under (empty, or ending with <c>/</c>).</summary>
    public string Prefix => _prefix;

    /// <summary>Gets the SDK client the store uses.</summary>
    public IAmazonS3 Client => _s3.Client;

    /// <summary>Creates the SDK client configuration <paramref name="options"/> describe: endpoint, region, path style, retries, timeouts, checksums and profile.</summary>
    /// <param name="options">The options.</param>
    /// <returns>A new configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its key.</exception>
    public static AmazonS3Config CreateClientConfig(S3StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        S3StoreOptionsValidator.ThrowIfInvalid(options);
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            MaxErrorRetry = options.MaxErrorRetry,
            RetryMode = options.RetryMode,
            Timeout = options.Timeout,
            ConnectTimeout = options.ConnectTimeout,
            RequestChecksumCalculation = options.RequestChecksumCalculation,
            ResponseChecksumValidation = options.ResponseChecksumValidation,
        };
        if (options.Profile is { } profile)
        {
            config.Profile = new Profile(profile);
        }

        if (options.ServiceUrl is { } serviceUrl)
        {
            config.ServiceURL = serviceUrl.AbsoluteUri;
            config.AuthenticationRegion = options.Region ?? RegionEndpoint.USEast1.SystemName;
        }
        else if (options.Region is { } region)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        return config;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// A seekable stream is read straight into the requests (and rewound for a retry), a non-seekable one through pooled
    /// buffers. A cancelled or failed multipart upload is aborted. The version is the object's ETag.
    /// </remarks>
    /// <exception cref="CheckpointConflictException">The condition did not hold (412 <c>PreconditionFailed</c>, 409 <c>ConditionalRequestConflict</c>, or 404 for a compare-and-swap); nothing was written.</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, access was denied, the content needs more than <see cref="MaxPartCount"/> parts, or the service was unreachable or failed after the SDK's retries.</exception>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWrite(key, content, condition, cancellationToken);
        string objectKey = _prefix + key;
        await EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        if (content.CanSeek)
        {
            // The length is known: stream the content into the requests, with no buffer.
            long length = Math.Max(0, content.Length - content.Position);
            if (length <= _seekableThreshold)
            {
                var source = new SeekableContent(content, content.Position);
                try
                {
                    using Stream body = source.Window(0, length);
                    return await PutAsync(key, objectKey, body, condition, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    source.Close();
                }
            }

            if (ChunkedUpload.PartCount(length, _partSize) > MaxPartCount)
            {
                throw TooManyParts(key);
            }

            return await S3MultipartUpload.RunAsync(_s3, key, objectKey, condition, _partChecksum, (upload, ct) => ChunkedUpload.FromSeekableAsync(content, length, _partSize, concurrency: 1, upload, ct), cancellationToken).ConfigureAwait(false);
        }

        // Buffer up to the threshold to learn whether the content fits one request; the buffer grows as data comes.
        using var first = new PooledBuffer(Math.Min(InitialBufferSize, _threshold));
        if (await first.FillAsync(content, _threshold, grow: true, cancellationToken).ConfigureAwait(false))
        {
            return await PutAsync(key, objectKey, first, condition, cancellationToken).ConfigureAwait(false);
        }

        using var second = new PooledBuffer(_partSize);
        bool ended = await second.FillAsync(content, _partSize, grow: false, cancellationToken).ConfigureAwait(false);
        if (second.Length == 0)
        {
            return await PutAsync(key, objectKey, first, condition, cancellationToken).ConfigureAwait(false); // exactly MultipartThreshold bytes
        }

        return await S3MultipartUpload.RunAsync(
            _s3,
            key,
            objectKey,
            condition,
            _partChecksum,
            async (upload, ct) => (await ChunkedUpload.FromBuffersAsync(content, first, second, ended, _partSize, MaxPartCount, () => TooManyParts(key), upload, ct).ConfigureAwait(false)).ToArray(),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// A ranged <c>GetObject</c>; the metadata (ETag, full length, time) is that of exactly the object version returned.
    /// Whole-object reads are sent as <c>bytes=0-</c> when <see cref="S3StoreOptions.ResponseChecksumValidation"/> is
    /// <c>WHEN_REQUIRED</c>, so the SDK spends no CPU re-checking content the checkpoint manager verifies itself.
    /// </remarks>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, access was denied, or the service was unreachable or failed after the SDK's retries. Reading the content can throw it too.</exception>
    public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckRead(key, offset, cancellationToken);
        string objectKey = _prefix + key;
        await EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        var request = new GetObjectRequest { BucketName = _bucket, Key = objectKey };
        if (offset > 0 || _rangedWholeReads)
        {
            // "bytes=0-" reads the whole object; as a range it also skips the SDK's MD5 check of single-request objects.
            request.ByteRange = new ByteRange(string.Create(CultureInfo.InvariantCulture, $"bytes={offset}-"));
        }

        return await OffsetRead.ReadAsync(ProviderName, key, offset, ReadOnceAsync, async ct => await _s3.HeadAsync(key, objectKey, ct).ConfigureAwait(false) is { } head ? _s3.Info(key, head.ContentLength, head.ETag, head.LastModified) : null, cancellationToken).ConfigureAwait(false);

        async Task<OffsetRead.Attempt> ReadOnceAsync(CancellationToken ct)
        {
            GetObjectResponse response;
            try
            {
                response = await _client.GetObjectAsync(request, ct).ConfigureAwait(false);
            }
            catch (AmazonServiceException ex) when (S3Errors.IsNoSuchKey(ex))
            {
                return OffsetRead.Attempt.Found(null);
            }
            catch (AmazonServiceException ex) when (request.ByteRange is not null && S3Errors.IsInvalidRange(ex))
            {
                return OffsetRead.Attempt.PastEnd; // the offset is at or past the end, or the object is empty
            }
            catch (Exception ex) when (S3Errors.IsStoreFailure(ex, ct))
            {
                throw _s3.Failure("GetObject", key, ex);
            }

            try
            {
                long length = ContentRange.TotalLength(response.ContentRange, offset + response.ContentLength);
                StoreObjectInfo info = _s3.Info(key, length, response.ETag, response.LastModified);
                var content = new TranslatingReadStream(response.ResponseStream, Math.Max(0, length - offset), ex => ex is AmazonClientException, ex => new CheckpointStoreException(ProviderName, key, $"reading the content failed: {S3Errors.Describe(ex)}", ex), response);
                return OffsetRead.Attempt.Found(new StoreReadResult(content, info, offset));
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks><c>ListObjectsV2</c>, following continuation tokens; names under <see cref="Prefix"/> that are not valid keys (such as folder markers ending with <c>/</c>) are skipped.</remarks>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, access was denied, or the service was unreachable or failed after the SDK's retries.</exception>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        ListCoreAsync(StoreArguments.CheckList(prefix), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// A <c>HEAD</c>, then a <c>DeleteObject</c> with <c>If-Match</c> (the ETag required, or the one just read), so the
    /// answer says whether this call deleted an object.
    /// </remarks>
    /// <exception cref="CheckpointConflictException">The object exists but its ETag differs from <paramref name="ifVersion"/>.</exception>
    /// <exception cref="CheckpointStoreException">The bucket does not exist, access was denied, or the service was unreachable or failed after the SDK's retries.</exception>
    public async Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckDelete(key, ifVersion, cancellationToken);
        string objectKey = _prefix + key;
        await EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        if (ifVersion is { } version)
        {
            var condition = WriteCondition.IfVersionMatches(version);
            GetObjectMetadataResponse? head = await _s3.HeadAsync(key, objectKey, cancellationToken).ConfigureAwait(false);
            if (head is not null && !S3Calls.SameETag(head.ETag, version.Value))
            {
                throw new CheckpointConflictException(ProviderName, key, condition);
            }

            // The HEAD check also protects stores that ignore If-Match on DELETE; the If-Match closes the race where S3 honours it.
            // A service that ignores If-Match answers 204 for a missing key too: only an object the HEAD saw counts as deleted.
            return await DeleteIfMatchAsync(key, objectKey, version.Value, cancellationToken).ConfigureAwait(false) switch
            {
                DeleteOutcome.Deleted => head is not null,
                DeleteOutcome.Missing => false,
                _ => throw new CheckpointConflictException(ProviderName, key, condition),
            };
        }

        for (int attempt = 1; attempt <= MaxDeleteAttempts; attempt++)
        {
            // Delete exactly the object seen, so that "true" means this call deleted it; "*" (absent) still reports a missing bucket.
            GetObjectMetadataResponse? head = await _s3.HeadAsync(key, objectKey, cancellationToken).ConfigureAwait(false);
            DeleteOutcome outcome = await DeleteIfMatchAsync(key, objectKey, head is null ? S3Calls.AnyETag : head.ETag, cancellationToken).ConfigureAwait(false);
            if (outcome != DeleteOutcome.PreconditionFailed)
            {
                return outcome == DeleteOutcome.Deleted && head is not null;
            }
        }

        // The object keeps changing (or the service does not take "If-Match: *"): delete whatever is there.
        await _s3.CallAsync("DeleteObject", key, ct => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = objectKey }, ct), cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Disposes the SDK client if the store created it.</summary>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private static AmazonS3Client CreateClient(S3StoreOptions options, AWSCredentials? credentials)
    {
        AmazonS3Config config = CreateClientConfig(options);
        return credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config);
    }

    private async Task<StoreVersion> PutAsync(string key, string objectKey, PooledBuffer buffer, WriteCondition condition, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(buffer.Array, 0, buffer.Length, writable: false);
        return await PutAsync(key, objectKey, body, condition, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="body"/> (seekable, read from position 0 to its length) with one <c>PutObject</c> carrying the condition.</summary>
    private async Task<StoreVersion> PutAsync(string key, string objectKey, Stream body, WriteCondition condition, CancellationToken cancellationToken)
    {
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = objectKey,
            InputStream = body,
            AutoCloseStream = false,
            ContentType = S3Calls.ContentType,
        };
        (request.IfNoneMatch, request.IfMatch) = S3Calls.Headers(condition);
        _s3.Encrypt((method, kmsKeyId) => (request.ServerSideEncryptionMethod, request.ServerSideEncryptionKeyManagementServiceKeyId) = (method, kmsKeyId));

        try
        {
            PutObjectResponse response = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return _s3.Version(key, response.ETag);
        }
        catch (AmazonServiceException ex) when (S3Calls.IsConditionFailure(ex, condition))
        {
            throw new CheckpointConflictException(ProviderName, key, condition, ex);
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, cancellationToken))
        {
            throw _s3.Failure("PutObject", key, ex);
        }
    }

    private CheckpointStoreException TooManyParts(string key) =>
        new(ProviderName, key, $"the content needs more than {MaxPartCount} parts; raise {S3StoreOptions.SectionPath}:PartSize (now {_partSize} bytes).");

    private async Task<DeleteOutcome> DeleteIfMatchAsync(string key, string objectKey, string eTag, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = objectKey, IfMatch = eTag }, cancellationToken).ConfigureAwait(false);
            return DeleteOutcome.Deleted;
        }
        catch (AmazonServiceException ex) when (S3Errors.IsNoSuchKey(ex))
        {
            return DeleteOutcome.Missing;
        }
        catch (AmazonServiceException ex) when (S3Errors.IsPreconditionFailed(ex))
        {
            return DeleteOutcome.PreconditionFailed;
        }
        catch (Exception ex) when (S3Errors.IsStoreFailure(ex, cancellationToken))
        {
            throw _s3.Failure("DeleteObject", key, ex);
        }
    }

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix + prefix };
        do
        {
            ListObjectsV2Response page;
            try
            {
                page = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (S3Errors.IsStoreFailure(ex, cancellationToken))
            {
                throw _s3.Failure($"ListObjectsV2 of prefix \"{prefix}\"", null, ex);
            }

            foreach (S3Object item in page.S3Objects ?? [])
            {
                if (item.Key is null || !item.Key.StartsWith(_prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                string key = item.Key[_prefix.Length..];
                if (StoreKey.IsValid(key) && key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    yield return _s3.Info(key, item.Size ?? 0, item.ETag, item.LastModified);
                }
            }

            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (!string.IsNullOrEmpty(request.ContinuationToken));
    }

    private Task EnsureBucketAsync(CancellationToken cancellationToken) =>
        _bucketReady?.EnsureAsync(cancellationToken) ?? Task.CompletedTask;

    private enum DeleteOutcome
    {
        Deleted,
        Missing,
        PreconditionFailed,
    }
}
