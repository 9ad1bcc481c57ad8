using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;
using Azure.Storage;

namespace InputPipeline.Checkpointing.AzureBlob;

/// <summary>
/// Options of an <see cref="AzureBlobInputStateStore"/>, bound from the <c>InputPipelineCheckpointing:AzureBlob</c>
/// configuration section. Set exactly one of <see cref="ConnectionString"/> and <see cref="ServiceUri"/> (or register
/// a <c>BlobServiceClient</c> as a keyed service, see <see cref="ClientServiceKey"/>), and <see cref="Container"/>.
/// </summary>
/// <remarks>
/// The simple rules are DataAnnotations on the properties; <see cref="AzureBlobStoreOptionsValidator"/> checks them and
/// the rules that involve several options. <see cref="ToString"/> redacts the account key and SAS signatures, so the
/// options are safe to print; they are never logged.
/// </remarks>
public sealed class AzureBlobStoreOptions
{
    /// <summary>The configuration section the options are bound from: <c>InputPipelineCheckpointing:AzureBlob</c>.</summary>
    public const string SectionName = "InputPipelineCheckpointing:" + AzureBlobInputStateStore.AzureBlobProviderName;

    /// <summary>
    /// The service key, <c>InputPipelineCheckpointing:AzureBlob</c>, under which an application may register its own
    /// <c>Azure.Storage.Blobs.BlobServiceClient</c> as a keyed service; <c>AddAzureBlobStore()</c> then uses that client
    /// (its credential, transport and retry policy) and ignores <see cref="ConnectionString"/>, <see cref="ServiceUri"/>
    /// and the retry options.
    /// </summary>
    public const string ClientServiceKey = SectionName;

    /// <summary>The default key prefix: empty, so keys map to blob names unchanged.</summary>
    public const string DefaultPrefix = "";

    /// <summary>The longest <see cref="Prefix"/> accepted, in characters: 124, so that the prefix plus the longest key fits Azure's 1,024-character blob names.</summary>
    public const int MaxPrefixLength = 124;

    /// <summary>The default of <see cref="CreateContainerIfMissing"/>: <see langword="false"/>.</summary>
    public const bool DefaultCreateContainerIfMissing = false;

    /// <summary>The default of <see cref="InitialTransferSize"/>: 8 MiB.</summary>
    public const long DefaultInitialTransferSize = 8L * 1024 * 1024;

    /// <summary>The default of <see cref="MaximumTransferSize"/> (the block size): 8 MiB.</summary>
    public const long DefaultMaximumTransferSize = 8L * 1024 * 1024;

    /// <summary>The default of <see cref="MaximumConcurrency"/>: 4 blocks in flight per upload.</summary>
    public const int DefaultMaximumConcurrency = 4;

    /// <summary>The default of <see cref="TransferChecksum"/>: MD5 (CRC64 is not supported by Azurite).</summary>
    public const StorageChecksumAlgorithm DefaultTransferChecksum = StorageChecksumAlgorithm.MD5;

    /// <summary>The default of <see cref="MaxRetries"/>: 3 retries after the first attempt (the Azure SDK's default).</summary>
    public const int DefaultMaxRetries = 3;

    /// <summary>The default of <see cref="RetryDelay"/>: 0.8 seconds (the Azure SDK's default).</summary>
    public static readonly TimeSpan DefaultRetryDelay = TimeSpan.FromSeconds(0.8);

    /// <summary>The default of <see cref="MaxRetryDelay"/>: 1 minute (the Azure SDK's default).</summary>
    public static readonly TimeSpan DefaultMaxRetryDelay = TimeSpan.FromMinutes(1);

    /// <summary>The default of <see cref="NetworkTimeout"/>: 100 seconds per attempt (the Azure SDK's default).</summary>
    public static readonly TimeSpan DefaultNetworkTimeout = TimeSpan.FromSeconds(100);

    /// <summary>The shortest <see cref="RetryDelay"/> and <see cref="MaxRetryDelay"/> accepted: 1 millisecond.</summary>
    public static readonly TimeSpan MinRetryDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>The longest <see cref="RetryDelay"/> and <see cref="MaxRetryDelay"/> accepted: 1 hour.</summary>
    public static readonly TimeSpan MaxRetryDelayLimit = TimeSpan.FromHours(1);

    /// <summary>The shortest <see cref="NetworkTimeout"/> accepted: 100 milliseconds.</summary>
    public static readonly TimeSpan MinNetworkTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest <see cref="NetworkTimeout"/> accepted: 1 hour.</summary>
    public static readonly TimeSpan MaxNetworkTimeout = TimeSpan.FromHours(1);

    /// <summary>The default of <see cref="ListPageSize"/>: 5,000 blobs, the most one listing page can hold.</summary>
    public const int DefaultListPageSize = 5000;

    private const string Redacted = "***";

    /// <summary>
    /// Gets or sets an Azure Storage connection string, for example
    /// <c>DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net</c>. A secret: it is
    /// redacted by <see cref="ToString"/>. Exactly one of this and <see cref="ServiceUri"/>. Default <see langword="null"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Gets or sets the URI of the storage account (<c>https://account.blob.core.windows.net/</c>) or of the container
    /// (<c>https://account.blob.core.windows.net/container</c>). With a SAS query string (<c>…?sv=…&amp;sig=…</c>) the
    /// SAS authenticates the requests, and its signature is redacted by <see cref="ToString"/>; without one,
    /// <c>DefaultAzureCredential</c> does (managed identity, workload identity, environment, Azure CLI…), which needs
    /// <c>https</c>. A container URI must name <see cref="Container"/>. Exactly one of this and
    /// <see cref="ConnectionString"/>. Default <see langword="null"/>.
    /// </summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>
    /// Gets or sets the container that holds the checkpoints: 3 to 63 lower-case letters, digits and single hyphens,
    /// starting and ending with a letter or digit. Required. Default <see langword="null"/>.
    /// </summary>
    [Required(ErrorMessage = "the container is not set.")]
    [RegularExpression("^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$", ErrorMessage = "is not a valid container name: use 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.")]
    public string? Container { get; set; }

    /// <summary>
    /// Gets or sets the prefix every key is stored under, for example <c>jobs/run-42</c>: the blob name is the prefix, a
    /// <c>/</c> and the key. Leading <c>/</c> are ignored and a trailing <c>/</c> is added; it must otherwise follow the
    /// key rules (no empty, <c>.</c> or <c>..</c> segment, no backslash) and be at most <see cref="MaxPrefixLength"/>
    /// characters. Listings return keys without it. Default <see cref="DefaultPrefix"/> (none).
    /// </summary>
    public string? Prefix { get; set; } = DefaultPrefix;

    /// <summary>
    /// Gets or sets whether the store creates the container (private, no public access) when a request finds it missing.
    /// When <see langword="false"/>, a missing container fails every request with a <see cref="CheckpointStoreException"/>
    /// naming it. Default <see cref="DefaultCreateContainerIfMissing"/>.
    /// </summary>
    public bool CreateContainerIfMissing { get; set; } = DefaultCreateContainerIfMissing;

    /// <summary>
    /// Gets or sets the largest content, in bytes, uploaded in one request (Put Blob); larger content is uploaded as
    /// blocks of <see cref="MaximumTransferSize"/> and committed at once (Put Block List). Content of unknown length (a
    /// non-seekable stream) is buffered up to this size to decide. 64 KiB to 5,000 MiB. Default
    /// <see cref="DefaultInitialTransferSize"/>.
    /// </summary>
    [Range(65536d, 5242880000d)]
    public long InitialTransferSize { get; set; } = DefaultInitialTransferSize;

    /// <summary>
    /// Gets or sets the block size, in bytes, of uploads larger than <see cref="InitialTransferSize"/>. An upload of a
    /// non-seekable stream holds at most about <see cref="InitialTransferSize"/> + <see cref="MaximumConcurrency"/> ×
    /// this many bytes in memory, whatever the content's length; the blocks of a seekable stream are read straight from
    /// it. A blob has at most 50,000 blocks, so this also bounds the largest object (8 MiB blocks: about 390 GiB).
    /// 64 KiB to 4,000 MiB. Default <see cref="DefaultMaximumTransferSize"/>.
    /// </summary>
    [Range(65536d, 4194304000d)]
    public long MaximumTransferSize { get; set; } = DefaultMaximumTransferSize;

    /// <summary>Gets or sets how many blocks of one upload are sent at once. 1 to 64. Default <see cref="DefaultMaximumConcurrency"/>.</summary>
    [Range(1, 64)]
    public int MaximumConcurrency { get; set; } = DefaultMaximumConcurrency;

    /// <summary>
    /// Gets or sets the checksum each upload request carries for the service to check: <see cref="StorageChecksumAlgorithm.MD5"/>
    /// (the default), <see cref="StorageChecksumAlgorithm.StorageCrc64"/> (not supported by Azurite) or
    /// <see cref="StorageChecksumAlgorithm.None"/>. The checkpoint manager checks every part end to end anyway (length and
    /// XXH3, verified on every restore, with fallback to an older checkpoint); a transfer checksum adds a check per
    /// request before the commit. Its cost for a non-seekable stream (a snapshot written through a pipe): to send blocks
    /// in parallel with a checksum, the SDK copies each block into a new buffer, so an upload of N bytes leaves about N
    /// bytes of garbage; seekable content (a snapshot held in memory) is staged straight from the stream either way.
    /// Default <see cref="DefaultTransferChecksum"/>.
    /// </summary>
    public StorageChecksumAlgorithm TransferChecksum { get; set; } = DefaultTransferChecksum;

    /// <summary>
    /// Gets or sets how many times a request that failed with a transient error (a network error, a timeout, 408, 429,
    /// 500, 502, 503 or 504) is retried, with exponential back-off, before the store gives up with a
    /// <see cref="CheckpointStoreException"/>. 0 to 20. Default <see cref="DefaultMaxRetries"/>.
    /// </summary>
    [Range(0, 20)]
    public int MaxRetries { get; set; } = DefaultMaxRetries;

    /// <summary>Gets or sets the delay before the first retry; later retries back off exponentially. <see cref="MinRetryDelay"/> (1 ms) to <see cref="MaxRetryDelayLimit"/> (1 hour). Default <see cref="DefaultRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = DefaultRetryDelay;

    /// <summary>Gets or sets the longest delay between two retries; at least <see cref="RetryDelay"/>. <see cref="MinRetryDelay"/> (1 ms) to <see cref="MaxRetryDelayLimit"/> (1 hour). Default <see cref="DefaultMaxRetryDelay"/>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = DefaultMaxRetryDelay;

    /// <summary>Gets or sets how long one attempt of a request may take before it is cancelled and retried. <see cref="MinNetworkTimeout"/> (100 ms) to <see cref="MaxNetworkTimeout"/> (1 hour). Default <see cref="DefaultNetworkTimeout"/>.</summary>
    public TimeSpan NetworkTimeout { get; set; } = DefaultNetworkTimeout;

    /// <summary>Gets or sets how many blobs one listing request asks for; listings page through everything. 1 to 5,000. Default <see cref="DefaultListPageSize"/>.</summary>
    [Range(1, 5000)]
    public int ListPageSize { get; set; } = DefaultListPageSize;

    /// <summary>
    /// Returns the options in a readable form with the secrets redacted: the <c>AccountKey</c> and
    /// <c>SharedAccessSignature</c> of <see cref="ConnectionString"/> and the <c>sig</c> of <see cref="ServiceUri"/>'s
    /// query string are shown as <c>***</c>.
    /// </summary>
    /// <returns>The options, safe to print.</returns>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"AzureBlobStoreOptions {{ ConnectionString = {RedactConnectionString(ConnectionString) ?? "(none)"}, ServiceUri = {RedactUri(ServiceUri) ?? "(none)"}, Container = {Container ?? "(none)"}, Prefix = {Prefix}, CreateContainerIfMissing = {CreateContainerIfMissing}, InitialTransferSize = {InitialTransferSize}, MaximumTransferSize = {MaximumTransferSize}, MaximumConcurrency = {MaximumConcurrency}, TransferChecksum = {TransferChecksum}, MaxRetries = {MaxRetries}, RetryDelay = {RetryDelay}, MaxRetryDelay = {MaxRetryDelay}, NetworkTimeout = {NetworkTimeout}, ListPageSize = {ListPageSize} }}");

    /// <summary>Returns <paramref name="connectionString"/> with the values of its secret settings replaced by <c>***</c>.</summary>
    internal static string? RedactConnectionString(string? connectionString)
    {
        if (connectionString is null)
        {
            return null;
        }

        var builder = new StringBuilder(connectionString.Length);
        foreach (string part in connectionString.Split(';'))
        {
            if (part.Length == 0)
            {
                continue;
            }

            int equals = part.IndexOf('=', StringComparison.Ordinal);
            string name = equals < 0 ? string.Empty : part[..equals].Trim();
            bool isPublic = name.Equals("DefaultEndpointsProtocol", StringComparison.OrdinalIgnoreCase)
                || name.Equals("AccountName", StringComparison.OrdinalIgnoreCase)
                || name.Equals("EndpointSuffix", StringComparison.OrdinalIgnoreCase)
                || name.Equals("UseDevelopmentStorage", StringComparison.OrdinalIgnoreCase)
                || name.Equals("DevelopmentStorageProxyUri", StringComparison.OrdinalIgnoreCase)
                || name.EndsWith("Endpoint", StringComparison.OrdinalIgnoreCase);
            builder.Append(isPublic ? RedactSignature(part) : (equals < 0 ? Redacted : name + "=" + Redacted)).Append(';');
        }

        return builder.ToString();
    }

    /// <summary>Returns <paramref name="uri"/> with the value of its <c>sig</c> query parameter (the SAS signature) replaced by <c>***</c>.</summary>
    internal static string? RedactUri(Uri? uri)
    {
        if (uri is null)
        {
            return null;
        }

        return RedactSignature(uri.IsAbsoluteUri ? uri.AbsoluteUri : uri.OriginalString);
    }

    /// <summary>Returns <paramref name="text"/> (a URI, or a setting holding one) with the value of its <c>sig</c> query parameter replaced by <c>***</c>.</summary>
    private static string RedactSignature(string text)
    {
        int question = text.IndexOf('?', StringComparison.Ordinal);
        if (question < 0)
        {
            return text;
        }

        int hash = text.IndexOf('#', question);
        string query = hash < 0 ? text[(question + 1)..] : text[(question + 1)..hash];
        IEnumerable<string> parameters = query.Split('&').Select(p =>
        {
            int equals = p.IndexOf('=', StringComparison.Ordinal);
            string name = equals < 0 ? p : p[..equals];
            return name.Equals("sig", StringComparison.OrdinalIgnoreCase) ? name + "=" + Redacted : p;
        });
        return text[..(question + 1)] + string.Join('&', parameters);
    }

    /// <summary>Returns whether <paramref name="uri"/> carries a SAS token (a <c>sig</c> query parameter).</summary>
    internal static bool HasSas(Uri uri)
    {
        string query = uri.IsAbsoluteUri ? uri.Query : string.Empty;
        return query.TrimStart('?').Split('&').Any(p => p.StartsWith("sig=", StringComparison.OrdinalIgnoreCase));
    }
}
