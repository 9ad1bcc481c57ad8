using System.ComponentModel.DataAnnotations;
using System.Text;

namespace InputPipeline.Checkpointing.Gcs;

/// <summary>
/// Options of a <see cref="GcsInputStateStore"/>, bound from the <c>InputPipelineCheckpointing:Gcs</c> configuration
/// section. Only <see cref="Bucket"/> is required. <see cref="GcsStoreOptionsValidator"/> checks them on start (when
/// <c>Gcs</c> is the selected provider), and the store's constructor checks them again.
/// </summary>
/// <remarks>
/// These options hold no secret: <see cref="CredentialsFile"/> is a path, and the store never reads the file's content
/// into a message or a log. <see cref="ToString"/> shows every setting.
/// </remarks>
public sealed class GcsStoreOptions
{
    /// <summary>The configuration section these options are bound from: <c>InputPipelineCheckpointing:Gcs</c>.</summary>
    public const string SectionPath = "InputPipelineCheckpointing:" + GcsInputStateStore.GcsProviderName;

    /// <summary>The default endpoint: <c>https://storage.googleapis.com/</c>.</summary>
    public const string DefaultBaseUri = "https://storage.googleapis.com/";

    /// <summary>
    /// Gets or sets the bucket that holds the objects. Required: 3 to 222 characters of lowercase letters, digits,
    /// <c>-</c>, <c>_</c> and <c>.</c>, starting and ending with a letter or digit. Default <see langword="null"/>.
    /// </summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = "{0}: the bucket is not set.")]
    [RegularExpression("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", ErrorMessage = "{0}: not a valid bucket name; use 3 to 222 characters of lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit.")]
    public string? Bucket { get; set; }

    /// <summary>
    /// Gets or sets the prefix every key is stored under inside the bucket, for example <c>jobs/run-7</c>. A leading
    /// <c>/</c> is removed and a trailing <c>/</c> added, so keys become <c>jobs/run-7/&lt;key&gt;</c>. At most
    /// 124 UTF-8 bytes (object names are limited to 1,024 bytes and keys to <see cref="StoreKey.MaxKeyBytes"/>).
    /// Default empty: keys are object names.
    /// </summary>
    public string? Prefix { get; set; }

    /// <summary>
    /// Gets or sets the endpoint of the JSON API: an emulator (<c>http://127.0.0.1:9023/</c>) or a private endpoint.
    /// API paths (<c>storage/v1/…</c>, <c>upload/storage/v1/…</c>) are resolved against it; the client library's form,
    /// ending with <c>storage/v1/</c>, is accepted too. Unused when the store is given a <c>StorageClient</c>. An absolute <c>http</c> or
    /// <c>https</c> URI. Default <see cref="DefaultBaseUri"/>.
    /// </summary>
    public Uri BaseUri { get; set; } = new(DefaultBaseUri);

    /// <summary>
    /// Gets or sets the path of a service-account key file (JSON) to authenticate with. When not set, application
    /// default credentials are used (<c>GOOGLE_APPLICATION_CREDENTIALS</c>, the gcloud user credentials, or the
    /// metadata server on Google Cloud) unless the store is anonymous (see <see cref="Anonymous"/>). The file must
    /// exist. It is not a secret itself, but the store never logs or shows the file's content. Default <see langword="null"/>.
    /// </summary>
    public string? CredentialsFile { get; set; }

    /// <summary>
    /// Gets or sets whether requests carry no credentials. <see langword="null"/> (the default) means automatic:
    /// anonymous exactly when <see cref="BaseUri"/> is a plain <c>http</c> URI (an emulator; a token is never sent
    /// unencrypted) and <see cref="CredentialsFile"/> is not set. <see langword="true"/> never sends credentials;
    /// <see langword="false"/> always does, even over <c>http</c>. Cannot be <see langword="true"/> with a
    /// <see cref="CredentialsFile"/>. A credential given in code (to the store's constructor, or as a keyed
    /// service to <c>AddGcsStore()</c>) is used unless this is <see langword="true"/>.
    /// </summary>
    public bool? Anonymous { get; set; }

    /// <summary>
    /// Gets or sets the project a missing bucket is created in; required when <see cref="CreateBucketIfMissing"/> is
    /// <see langword="true"/>, unused otherwise. Default <see langword="null"/>.
    /// </summary>
    public string? ProjectId { get; set; }

    /// <summary>
    /// Gets or sets whether the store creates <see cref="Bucket"/> in <see cref="ProjectId"/> (location and storage
    /// class at the project's defaults) when it does not exist. When <see langword="false"/>, a missing bucket makes
    /// every call fail with a <see cref="CheckpointStoreException"/> naming it. Default <see langword="false"/>.
    /// </summary>
    public bool CreateBucketIfMissing { get; set; }

    /// <summary>The default size up to which content is uploaded in one request rather than in a resumable session: 8 MiB.</summary>
    public const int DefaultResumableThreshold = 8 * 1024 * 1024;

    /// <summary>The largest <see cref="ResumableThreshold"/> accepted: 256 MiB.</summary>
    public const int MaxResumableThreshold = 256 * 1024 * 1024;

    /// <summary>
    /// Gets or sets the largest content, in bytes, uploaded in one request (a <c>multipart</c> upload, one round trip);
    /// longer content goes through a resumable session of Google.Cloud.Storage.V1 (a request to start it, then one per
    /// <see cref="ChunkSize"/> chunk), which every upload of the client library is. Content of known length up to the
    /// threshold is sent straight from its stream; content of unknown length is buffered up to the threshold to learn
    /// whether it fits. A write holds at most max(<see cref="ResumableThreshold"/>, <see cref="ChunkSize"/> + 1) bytes.
    /// 0 to <see cref="MaxResumableThreshold"/>. Default <see cref="DefaultResumableThreshold"/>.
    /// </summary>
    [Range(0, MaxResumableThreshold, ErrorMessage = "{0}: must be between {1} and {2}.")]
    public int ResumableThreshold { get; set; } = DefaultResumableThreshold;

    /// <summary>The unit of resumable upload chunks that Cloud Storage requires: 256 KiB (262,144 bytes).</summary>
    public const int ChunkGranularity = 256 * 1024;

    /// <summary>The default size of a resumable upload's chunks: 8 MiB.</summary>
    public const int DefaultChunkSize = 8 * 1024 * 1024;

    /// <summary>The largest <see cref="ChunkSize"/> accepted: 256 MiB.</summary>
    public const int MaxChunkSize = 256 * 1024 * 1024;

    /// <summary>
    /// Gets or sets the size, in bytes, of the chunks of a resumable upload, each read into one buffer the upload
    /// reuses (so a larger size costs memory, and fewer chunks save a round trip each): a multiple of
    /// <see cref="ChunkGranularity"/> (256 KiB), from 256 KiB to <see cref="MaxChunkSize"/>. A chunk that fails is
    /// resumed by the client library from what the session holds. Default <see cref="DefaultChunkSize"/>.
    /// </summary>
    [Range(ChunkGranularity, MaxChunkSize, ErrorMessage = "{0}: must be between {1} and {2} bytes.")]
    public int ChunkSize { get; set; } = DefaultChunkSize;

    /// <summary>
    /// Gets or sets whether uploads carry an MD5 of their content for Cloud Storage to check. A one-request upload
    /// sends it in the object's metadata, and the service refuses a mismatch before the object exists; a resumable
    /// upload hashes the bytes the session confirmed and compares them with the object's MD5 once it is complete,
    /// deleting a mismatching object before failing. Downloads are not checked in transit either way: the checkpoint
    /// manager verifies every part it restores against the length and checksum in its manifest. Off by default: on the
    /// project's benchmarks the hashing cost a 64 MiB save about as much as the upload itself, for a check the
    /// manager already makes end to end (and TLS makes on the wire). Default <see langword="false"/>.
    /// </summary>
    public bool TransferValidation { get; set; }

    /// <summary>The default number of retries of a failed request (not counting the first attempt): 5.</summary>
    public const int DefaultMaxRetryAttempts = 5;

    /// <summary>The largest <see cref="MaxRetryAttempts"/> accepted: 50.</summary>
    public const int MaxMaxRetryAttempts = 50;

    /// <summary>
    /// Gets or sets how many times a request that failed transiently (HTTP 408, 429 or 5xx, a network error or an
    /// attempt timeout) is retried, with exponential backoff and jitter, before the call fails with
    /// <see cref="CheckpointStoreException"/>. Only requests that are safe to repeat are retried after such a failure:
    /// reads, listings, writes and deletes with a generation precondition, and the start of an upload session. An
    /// unconditional write or delete is retried only when it was throttled (429) or could not connect. The chunks of a
    /// resumable upload are resumed by the client library (up to this many retries with a client the store creates).
    /// 0 disables retries; at most
    /// <see cref="MaxMaxRetryAttempts"/>. Default <see cref="DefaultMaxRetryAttempts"/>.
    /// </summary>
    [Range(0, MaxMaxRetryAttempts, ErrorMessage = "{0}: must be between {1} and {2}.")]
    public int MaxRetryAttempts { get; set; } = DefaultMaxRetryAttempts;

    /// <summary>The default delay before the first retry, doubled (with jitter) at each further retry: 1 second.</summary>
    public static readonly TimeSpan DefaultRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>The longest <see cref="AttemptTimeout"/>, <see cref="RetryDelay"/> and <see cref="MaxRetryDelay"/> accepted: one day.</summary>
    public static readonly TimeSpan MaxTimeSpan = TimeSpan.FromDays(1);

    /// <summary>
    /// Gets or sets the delay before the first retry; each further retry doubles it (with jitter), up to
    /// <see cref="MaxRetryDelay"/>. A <c>Retry-After</c> the service sends is honoured, up to <see cref="MaxRetryDelay"/>.
    /// Zero or more. Default <see cref="DefaultRetryDelay"/>.
    /// </summary>
    public TimeSpan RetryDelay { get; set; } = DefaultRetryDelay;

    /// <summary>The default longest delay between two retries: 32 seconds.</summary>
    public static readonly TimeSpan DefaultMaxRetryDelay = TimeSpan.FromSeconds(32);

    /// <summary>Gets or sets the longest delay between two retries; at least <see cref="RetryDelay"/>. Default <see cref="DefaultMaxRetryDelay"/>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = DefaultMaxRetryDelay;

    /// <summary>The default time one attempt of a request may take until the response headers arrive, and one read of a download may wait for data: 100 seconds.</summary>
    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromSeconds(100);

    /// <summary>The shortest <see cref="AttemptTimeout"/> accepted: 10 milliseconds.</summary>
    public static readonly TimeSpan MinAttemptTimeout = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Gets or sets how long one attempt of a request may take, from the start of sending (an upload's body included)
    /// until its response headers arrive. An attempt that times out counts as a transient failure. The chunks of a
    /// resumable upload are bounded by the client's own timeout instead (100 seconds by default).
    /// From <see cref="MinAttemptTimeout"/> to one day. Default <see cref="DefaultAttemptTimeout"/>.
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = DefaultAttemptTimeout;

    /// <summary>Returns every setting, for diagnostics. The content of <see cref="CredentialsFile"/> is never shown.</summary>
    /// <returns>A readable summary.</returns>
    public override string ToString()
    {
        var builder = new StringBuilder("GcsStoreOptions { ");
        builder.Append(CultureInfo.InvariantCulture, $"Bucket = {Bucket ?? "(not set)"}, Prefix = {Prefix ?? string.Empty}, BaseUri = {BaseUri}, ");
        builder.Append(CultureInfo.InvariantCulture, $"CredentialsFile = {(string.IsNullOrEmpty(CredentialsFile) ? "(application default credentials)" : CredentialsFile)}, ");
        builder.Append(CultureInfo.InvariantCulture, $"Anonymous = {(Anonymous is { } anonymous ? anonymous.ToString() : "(automatic)")}, ProjectId = {ProjectId ?? "(not set)"}, ");
        builder.Append(CultureInfo.InvariantCulture, $"CreateBucketIfMissing = {CreateBucketIfMissing}, ResumableThreshold = {ResumableThreshold}, ChunkSize = {ChunkSize}, TransferValidation = {TransferValidation}, ");
        builder.Append(CultureInfo.InvariantCulture, $"MaxRetryAttempts = {MaxRetryAttempts}, RetryDelay = {RetryDelay}, MaxRetryDelay = {MaxRetryDelay}, AttemptTimeout = {AttemptTimeout} }}");
        return builder.ToString();
    }

    /// <summary>Returns a copy, so that a store is not changed by later changes to the options it was given.</summary>
    internal GcsStoreOptions Clone() => (GcsStoreOptions)MemberwiseClone();

    /// <summary>Returns whether requests go out without credentials (see <see cref="Anonymous"/>).</summary>
    internal bool IsAnonymous() =>
        Anonymous ?? (string.IsNullOrEmpty(CredentialsFile) && BaseUri is { IsAbsoluteUri: true } uri && uri.Scheme == Uri.UriSchemeHttp);

    /// <summary>Returns <see cref="Prefix"/> normalised: no leading <c>/</c>, a trailing <c>/</c> when not empty.</summary>
    internal string NormalizedPrefix() => StorePrefix.Normalize(Prefix);

    /// <summary>
    /// Returns <see cref="BaseUri"/> as the root of the API, ending with <c>/</c>: an address given in the client
    /// library's form, with <c>storage/v1/</c> at its end (as <c>STORAGE_EMULATOR_HOST</c> tools write it), is taken
    /// back to its root.
    /// </summary>
    internal Uri NormalizedBaseUri()
    {
        string uri = BaseUri.AbsoluteUri.EndsWith('/') ? BaseUri.AbsoluteUri : BaseUri.AbsoluteUri + "/";
        return new Uri(uri.EndsWith("/storage/v1/", StringComparison.Ordinal) ? uri[..^"storage/v1/".Length] : uri);
    }
}
