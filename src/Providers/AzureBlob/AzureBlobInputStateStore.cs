using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using InputPipeline.Checkpointing.AzureBlob.Internal;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.AzureBlob;

/// <summary>
/// An <see cref="IInputStateStore"/> over a container of Azure Blob Storage (or Azurite), on Azure.Storage.Blobs.
/// Each key is a block blob named <see cref="Prefix"/> + key; versions are the blobs' ETags.
/// </summary>
/// <remarks>
/// <para>
/// A create-only write sends <c>If-None-Match: *</c>, a compare-and-swap <c>If-Match: &lt;ETag&gt;</c>, and a conditional
/// delete <c>If-Match</c>; a failed condition (409 <c>BlobAlreadyExists</c>, 412 <c>ConditionNotMet</c>) becomes
/// <see cref="CheckpointConflictException"/>. Every other failure of the service or of the network, after the client's
/// retries (<see cref="AzureBlobStoreOptions.MaxRetries"/>), becomes <see cref="CheckpointStoreException"/>; the SDK's
/// exception is kept as the inner exception.
/// </para>
/// <para>
/// Content up to <see cref="AzureBlobStoreOptions.InitialTransferSize"/> is uploaded in one request; larger content is
/// staged as blocks of <see cref="AzureBlobStoreOptions.MaximumTransferSize"/>, at most
/// <see cref="AzureBlobStoreOptions.MaximumConcurrency"/> at a time, and committed at once with the write's condition,
/// so a reader never sees part of a write and a cancelled or failed upload leaves no visible blob (its uncommitted
/// blocks are discarded by the service). The blocks of a seekable stream are read straight from it, with no buffer; a
/// non-seekable stream of unknown length goes through the SDK's buffers, so memory stays bounded whatever the
/// content's length. Every request carries the transfer checksum of <see cref="AzureBlobStoreOptions.TransferChecksum"/>
/// (MD5 by default), which the service checks.
/// </para>
/// <para>
/// A read streams the blob (from an offset with a <c>Range</c> request) and reports the ETag of exactly the content it
/// streams: if the connection breaks, the SDK resumes with <c>If-Match</c> on that ETag, and a blob replaced meanwhile
/// fails the read with <see cref="CheckpointStoreException"/> instead of mixing two versions.
/// </para>
/// <para>The store is thread-safe and holds no resources of its own, so it needs no disposal.</para>
/// </remarks>
public sealed partial class AzureBlobInputStateStore : IInputStateStore
{
    /// <summary>The provider name, <c>AzureBlob</c>: the value of <see cref="ProviderName"/> and of <c>InputPipelineCheckpointing:Provider</c> that selects this store.</summary>
    public const string AzureBlobProviderName = "AzureBlob";

    /// <summary>The most blocks a block blob may have: 50,000.</summary>
    private const int MaxBlockCount = 50_000;

    private static readonly DownloadTransferValidationOptions DownloadValidation = new() { ChecksumAlgorithm = StorageChecksumAlgorithm.None };

    private readonly BlobContainerClient _container;
    private readonly string _prefix;
    private readonly bool _createContainerIfMissing;
    private readonly StorageTransferOptions _transfer;
    private readonly UploadTransferValidationOptions _uploadValidation;
    private readonly long _initialTransferSize;
    private readonly long _blockSize;
    private readonly int _maximumConcurrency;
    private readonly int _listPageSize;
    private readonly string _location;
    private readonly ILogger _logger;
    private readonly OnceGate _containerReady;

    /// <summary>
    /// Creates a store from <paramref name="options"/>: a client from <see cref="AzureBlobStoreOptions.ConnectionString"/>
    /// or <see cref="AzureBlobStoreOptions.ServiceUri"/> (with its SAS, or <c>DefaultAzureCredential</c>), with the
    /// configured retries.
    /// </summary>
    /// <param name="options">The options; validated here and not read again.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing, out of range or inconsistent; the message names its configuration key.</exception>
    public AzureBlobInputStateStore(AzureBlobStoreOptions options, ILoggerFactory? loggerFactory = null)
        : this(AzureClients.CreateContainerClient(options), options, loggerFactory)
    {
    }

    /// <summary>
    /// Creates a store that uses an application's own client: its credential, transport and retry policy apply, and
    /// <see cref="AzureBlobStoreOptions.ConnectionString"/>, <see cref="AzureBlobStoreOptions.ServiceUri"/> and the retry
    /// options are ignored.
    /// </summary>
    /// <param name="serviceClient">The client of the storage account.</param>
    /// <param name="options">The options (container, prefix, transfer settings); validated here and not read again.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="serviceClient"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing, out of range or inconsistent; the message names its configuration key.</exception>
    public AzureBlobInputStateStore(BlobServiceClient serviceClient, AzureBlobStoreOptions options, ILoggerFactory? loggerFactory = null)
        : this(AzureClients.ContainerOf(serviceClient, options), options, loggerFactory)
    {
    }

    /// <summary>
    /// Creates a store over a container client an application made itself (for example from a container SAS URI): its
    /// credential, transport and retry policy apply, and <see cref="AzureBlobStoreOptions.Container"/> must name its container.
    /// </summary>
    /// <param name="containerClient">The client of the container.</param>
    /// <param name="options">The options (container, prefix, transfer settings); validated here and not read again.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="containerClient"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing, out of range or inconsistent, or the client is of another container; the message names the configuration key.</exception>
    public AzureBlobInputStateStore(BlobContainerClient containerClient, AzureBlobStoreOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(containerClient);
        ArgumentNullException.ThrowIfNull(options);
        AzureBlobStoreOptionsValidator.ThrowIfInvalid(options, connectionRequired: false);
        if (!string.Equals(containerClient.Name, options.Container, StringComparison.Ordinal))
        {
            throw new CheckpointOptionsException(
                $"{AzureBlobStoreOptions.SectionName}:Container",
                $"the client is of the container \"{containerClient.Name}\" but the option is \"{options.Container}\"; they must be the same.");
        }

        _container = containerClient;
        _prefix = StorePrefix.Normalize(options.Prefix);
        _createContainerIfMissing = options.CreateContainerIfMissing;
        _transfer = new StorageTransferOptions
        {
            InitialTransferSize = options.InitialTransferSize,
            MaximumTransferSize = options.MaximumTransferSize,
            MaximumConcurrency = options.MaximumConcurrency,
        };
        _uploadValidation = new UploadTransferValidationOptions { ChecksumAlgorithm = options.TransferChecksum };
        _initialTransferSize = options.InitialTransferSize;
        _blockSize = options.MaximumTransferSize;
        _maximumConcurrency = options.MaximumConcurrency;
        _listPageSize = options.ListPageSize;
        _location = containerClient.Uri.GetLeftPart(UriPartial.Path); // no query string: a SAS never appears in messages
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AzureBlobInputStateStore>();
        _containerReady = new OnceGate(CreateContainerIfMissingAsync);
    }

    /// <inheritdoc/>
    /// <value>Always <see cref="AzureBlobProviderName"/>.</value>
    public string ProviderName => AzureBlobProviderName;

    /// <summary>Gets the name of the container the store writes to.</summary>
    public string ContainerName => _container.Name;

    /// <summary>Gets the normalised prefix of every blob name: empty, or ending with <c>/</c>.</summary>
    public string Prefix => _prefix;

    /// <inheritdoc/>
    /// <remarks>
    /// In one request, or as blocks committed at once with the condition. The blocks of a seekable stream are read
    /// straight from it (and read again for a retried block); a non-seekable stream goes through the SDK's buffers.
    /// The version is the blob's ETag.
    /// </remarks>
    /// <exception cref="CheckpointConflictException">The condition did not hold (409 <c>BlobAlreadyExists</c>, 412 <c>ConditionNotMet</c>); nothing was written.</exception>
    /// <exception cref="CheckpointStoreException">The service is unreachable, refused the write, or failed after the retries; or the container does not exist and <see cref="AzureBlobStoreOptions.CreateContainerIfMissing"/> is off.</exception>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWrite(key, content, condition, cancellationToken);
        BlobClient blob = _container.GetBlobClient(_prefix + key);
        BlobRequestConditions? conditions = condition.Kind switch
        {
            WriteConditionKind.IfAbsent => new BlobRequestConditions { IfNoneMatch = ETag.All },
            WriteConditionKind.IfVersionMatches => new BlobRequestConditions { IfMatch = ToETag(condition.Version!.Value.Value) },
            _ => null,
        };
        var options = new BlobUploadOptions
        {
            Conditions = conditions,
            TransferOptions = _transfer,
            TransferValidation = _uploadValidation,
        };
        long? start = content.CanSeek ? content.Position : null;

        // Once per store, before the content is read: it may be a pipe that cannot be read twice.
        await EnsureContainerAsync("write", key, cancellationToken).ConfigureAwait(false);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (content.CanSeek && content.Length - content.Position > _initialTransferSize)
                {
                    return await StageSeekableAsync(key, blob, content, conditions, cancellationToken).ConfigureAwait(false);
                }

                Response<BlobContentInfo> response = await blob.UploadAsync(content, options, cancellationToken).ConfigureAwait(false);
                return ToVersion(response.Value.ETag);
            }
            catch (RequestFailedException ex) when (AzureErrors.IsContainerNotFound(ex) && _createContainerIfMissing && attempt == 1)
            {
                // The container was deleted since it was ensured: create it again, and write again if the content can be rewound.
                _containerReady.Reset();
                await EnsureContainerAsync("write", key, cancellationToken).ConfigureAwait(false);
                if (start is null)
                {
                    throw new CheckpointStoreException(
                        ProviderName,
                        key,
                        $"the container \"{ContainerName}\" at {_location} was missing (deleted after the store made sure of it); it has been created again, but the content stream cannot be rewound, so the write was not retried.",
                        ex);
                }

                content.Position = start.Value;
            }
            catch (RequestFailedException ex) when (AzureErrors.IsConditionFailure(ex, condition))
            {
                throw new CheckpointConflictException(ProviderName, key, condition, ex);
            }
            catch (Exception ex) when (IsFailure(ex, cancellationToken))
            {
                throw Failure("write", key, ex, cancellationToken);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Streams the blob (from an offset with a <c>Range</c> request) and reports the ETag of exactly the content it
    /// streams: if the connection breaks, the SDK resumes with <c>If-Match</c> on that ETag, and a blob replaced
    /// meanwhile fails the read with <see cref="CheckpointStoreException"/> instead of mixing two versions.
    /// </remarks>
    /// <exception cref="CheckpointStoreException">The service is unreachable, refused the read, or failed after the retries; or the container does not exist and <see cref="AzureBlobStoreOptions.CreateContainerIfMissing"/> is off.</exception>
    public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckRead(key, offset, cancellationToken);
        BlobClient blob = _container.GetBlobClient(_prefix + key);
        return await RetryInNewContainerAsync("read", key, ct => OffsetRead.ReadAsync(ProviderName, key, offset, attemptToken => ReadOnceAsync(blob, key, offset, attemptToken), attemptToken => PropertiesAsync(blob, key, attemptToken), ct), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>Pages through every blob (<see cref="AzureBlobStoreOptions.ListPageSize"/> per request); blobs whose names are not valid keys, and uncommitted blobs, are not listed.</remarks>
    /// <exception cref="CheckpointStoreException">The service is unreachable, refused the listing, or failed after the retries; or the container does not exist and <see cref="AzureBlobStoreOptions.CreateContainerIfMissing"/> is off.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        ListCoreAsync(StoreArguments.CheckList(prefix), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>Deletes the blob and its snapshots; a conditional delete sends <c>If-Match</c>.</remarks>
    /// <exception cref="CheckpointConflictException">The blob exists but its ETag differs from <paramref name="ifVersion"/> (412).</exception>
    /// <exception cref="CheckpointStoreException">The service is unreachable, refused the delete, or failed after the retries; or the container does not exist and <see cref="AzureBlobStoreOptions.CreateContainerIfMissing"/> is off.</exception>
    public async Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckDelete(key, ifVersion, cancellationToken);
        BlobClient blob = _container.GetBlobClient(_prefix + key);
        BlobRequestConditions? conditions = ifVersion is { } version ? new BlobRequestConditions { IfMatch = ToETag(version.Value) } : null;
        return await RetryInNewContainerAsync("delete", key, async ct =>
        {
            try
            {
                await blob.DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, conditions, ct).ConfigureAwait(false);
                return true;
            }
            catch (RequestFailedException ex) when (AzureErrors.IsBlobNotFound(ex))
            {
                return false;
            }
            catch (RequestFailedException ex) when (ex.Status == 412 && conditions is not null)
            {
                // A failed If-Match: the blob has another ETag, or (on some servers) it does not exist at all.
                return await PropertiesAsync(blob, key, ct).ConfigureAwait(false) is null
                    ? false
                    : throw new CheckpointConflictException(ProviderName, key, WriteCondition.IfVersionMatches(ifVersion!.Value), ex);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns a short description for messages: the provider, container and account endpoint (never a SAS).</summary>
    /// <returns>For example <c>AzureBlob store, container "checkpoints" at https://account.blob.core.windows.net/checkpoints, prefix "jobs/"</c>.</returns>
    public override string ToString() =>
        $"{ProviderName} store, container \"{ContainerName}\" at {_location}{(_prefix.Length == 0 ? string.Empty : $", prefix \"{_prefix}\"")}";

    /// <summary>Returns the id of block <paramref name="index"/> of an upload: the same length for every block, unique to the upload.</summary>
    private static string BlockId(string upload, long index) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{upload}{index:D6}")));

    /// <summary>
    /// Uploads seekable <paramref name="content"/> from its position to its end as blocks of
    /// <see cref="AzureBlobStoreOptions.MaximumTransferSize"/>, each read straight from the content (the SDK hashes it and
    /// sends it, with no copy), at most <see cref="AzureBlobStoreOptions.MaximumConcurrency"/> at a time; then commits
    /// them with <paramref name="conditions"/>. A failed block stops the others; nothing is visible before the commit.
    /// </summary>
    private async Task<StoreVersion> StageSeekableAsync(string key, BlobClient blob, Stream content, BlobRequestConditions? conditions, CancellationToken cancellationToken)
    {
        long length = content.Length - content.Position;
        if (ChunkedUpload.PartCount(length, _blockSize) > MaxBlockCount)
        {
            throw new CheckpointStoreException(ProviderName, key, $"the content ({length} bytes) needs more than {MaxBlockCount} blocks; raise {AzureBlobStoreOptions.SectionName}:MaximumTransferSize (now {_blockSize} bytes).");
        }

        BlockBlobClient blocks = _container.GetBlockBlobClient(blob.Name);
        string upload = Guid.NewGuid().ToString("N");
        string[] ids = await ChunkedUpload.FromSeekableAsync(content, length, _blockSize, _maximumConcurrency, async (number, body, ct) =>
        {
            string id = BlockId(upload, number - 1);
            await blocks.StageBlockAsync(id, body, new BlockBlobStageBlockOptions { TransferValidation = _uploadValidation }, ct).ConfigureAwait(false);
            return id;
        }, cancellationToken).ConfigureAwait(false);
        Response<BlobContentInfo> committed = await blocks.CommitBlockListAsync(ids, new CommitBlockListOptions { Conditions = conditions }, cancellationToken).ConfigureAwait(false);
        return ToVersion(committed.Value.ETag);
    }

    private static StoreVersion ToVersion(ETag etag)
    {
        // Headers carry quoted ETags ("0x8DC…"), listings unquoted ones (0x8DC…): versions are the unquoted value.
        string value = etag.ToString().Trim('"');
        return new StoreVersion(value);
    }

    private static ETag ToETag(string version) => new($"\"{version.Trim('"')}\"");

    private static bool IsFailure(Exception ex, CancellationToken cancellationToken) =>
        AzureErrors.IsStoreFailure(ex) && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested);

    /// <summary>Runs <paramref name="call"/>; a missing container is created (when allowed) and the call run again once.</summary>
    private async Task<T> RetryInNewContainerAsync<T>(string operation, string key, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        for (bool created = false; ; created = true)
        {
            try
            {
                return await call(cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (AzureErrors.IsContainerNotFound(ex) && _createContainerIfMissing && !created)
            {
                _containerReady.Reset();
                await EnsureContainerAsync(operation, key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsFailure(ex, cancellationToken))
            {
                throw Failure(operation, key, ex, cancellationToken);
            }
        }
    }

    private async Task<OffsetRead.Attempt> ReadOnceAsync(BlobClient blob, string key, long offset, CancellationToken cancellationToken)
    {
        try
        {
            var options = new BlobDownloadOptions
            {
                // No Range for a whole read: "bytes=0-" would fail on an empty blob.
                Range = offset == 0 ? default : new HttpRange(offset),
                TransferValidation = DownloadValidation,
            };
            Response<BlobDownloadStreamingResult> response = await blob.DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false);
            BlobDownloadDetails details = response.Value.Details;
            long length = ContentRange.TotalLength(details.ContentRange, details.ContentLength);
            var info = new StoreObjectInfo(key, length, ToVersion(details.ETag), details.LastModified);
            var content = new TranslatingReadStream(response.Value.Content, Math.Max(0, length - offset), AzureErrors.IsStoreFailure, ex => StoreFailure("read", key, ex));
            return OffsetRead.Attempt.Found(new StoreReadResult(content, info, offset));
        }
        catch (RequestFailedException ex) when (AzureErrors.IsBlobNotFound(ex))
        {
            return OffsetRead.Attempt.Found(null);
        }
        catch (RequestFailedException ex) when (ex.Status == 416 && offset > 0)
        {
            return OffsetRead.Attempt.PastEnd;
        }
    }

    /// <summary>Returns the blob's metadata, or <see langword="null"/> when it does not exist.</summary>
    private static async Task<StoreObjectInfo?> PropertiesAsync(BlobClient blob, string key, CancellationToken cancellationToken)
    {
        try
        {
            BlobProperties properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return new StoreObjectInfo(key, properties.ContentLength, ToVersion(properties.ETag), properties.LastModified);
        }
        catch (RequestFailedException ex) when (AzureErrors.IsBlobNotFound(ex))
        {
            return null;
        }
    }

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string namePrefix = _prefix + prefix;
        IAsyncEnumerator<Page<BlobItem>> pages = _container
            .GetBlobsAsync(BlobTraits.None, BlobStates.None, namePrefix.Length == 0 ? null : namePrefix, cancellationToken)
            .AsPages(continuationToken: null, pageSizeHint: _listPageSize)
            .GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await pages.MoveNextAsync().ConfigureAwait(false);
                }
                catch (RequestFailedException ex) when (AzureErrors.IsContainerNotFound(ex) && _createContainerIfMissing)
                {
                    // A container created now is empty: there is nothing to list.
                    _containerReady.Reset();
                    await EnsureContainerAsync("list", null, cancellationToken).ConfigureAwait(false);
                    yield break;
                }
                catch (Exception ex) when (IsFailure(ex, cancellationToken))
                {
                    throw Failure("list", null, ex, cancellationToken);
                }

                if (!more)
                {
                    yield break;
                }

                foreach (BlobItem item in pages.Current.Values)
                {
                    if (!item.Name.StartsWith(_prefix, StringComparison.Ordinal) || item.Properties.ETag is not { } etag)
                    {
                        continue;
                    }

                    string key = item.Name[_prefix.Length..];
                    if (!StoreKey.IsValid(key))
                    {
                        continue; // not written by a store (for example a "folder/" marker)
                    }

                    yield return new StoreObjectInfo(key, item.Properties.ContentLength ?? 0, ToVersion(etag), item.Properties.LastModified ?? DateTimeOffset.MinValue);
                }
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Makes sure of the container once per store (again after it was found gone), when allowed to create it.</summary>
    private async Task EnsureContainerAsync(string operation, string? key, CancellationToken cancellationToken)
    {
        if (!_createContainerIfMissing)
        {
            return;
        }

        try
        {
            await _containerReady.EnsureAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsFailure(ex, cancellationToken))
        {
            throw Failure($"{operation} (creating the missing container)", key, ex, cancellationToken);
        }
    }

    private async Task CreateContainerIfMissingAsync()
    {
        try
        {
            // Shared by every caller, so not cancellable by one of them; a failure is tried again by the next call.
            if (await _container.CreateIfNotExistsAsync(PublicAccessType.None, metadata: null, CancellationToken.None).ConfigureAwait(false) is not null)
            {
                Log.ContainerCreated(_logger, ContainerName, _location);
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 403)
        {
            // A container SAS (or a role without container rights) cannot create containers: go on, and let the
            // request itself tell whether the container exists.
            Log.ContainerNotCreated(_logger, ContainerName, _location, AzureErrors.Describe(ex));
        }
    }

    private Exception Failure(string operation, string? key, Exception ex, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            // The request failed because the caller cancelled it (the connection was aborted mid-transfer).
            return new OperationCanceledException($"The {operation} was cancelled.", ex, cancellationToken);
        }

        return StoreFailure(operation, key, ex);
    }

    private CheckpointStoreException StoreFailure(string operation, string? key, Exception ex)
    {
        string message = ex is RequestFailedException notFound && AzureErrors.IsContainerNotFound(notFound)
            ? _createContainerIfMissing
                ? $"the container \"{ContainerName}\" does not exist at {_location}, and the credential may not create it; create it, or use a credential with account-level rights. ({AzureErrors.Describe(ex)})"
                : $"the container \"{ContainerName}\" does not exist at {_location}; create it, or set {AzureBlobStoreOptions.SectionName}:CreateContainerIfMissing to true. ({AzureErrors.Describe(ex)})"
            : $"the {operation} in container \"{ContainerName}\" at {_location} failed: {AzureErrors.Describe(ex)}.";
        Log.RequestFailed(_logger, operation, key ?? string.Empty, ContainerName, AzureErrors.Describe(ex), ex);
        return new CheckpointStoreException(ProviderName, key, message, ex);
    }
}
