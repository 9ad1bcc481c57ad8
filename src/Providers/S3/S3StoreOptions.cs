using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;
using Amazon.Runtime;
using InputPipeline.Checkpointing.Providers.Internal;

namespace InputPipeline.Checkpointing.S3;

/// <summary>
/// Options of an <see cref="S3InputStateStore"/>, bound from the <c>InputPipelineCheckpointing:S3</c> configuration
/// section. Credentials are not options: they come from the standard AWS chain (environment variables, the shared
/// credentials and config files with <see cref="Profile"/>, web identity, container and instance roles).
/// </summary>
/// <remarks>
/// Simple rules are DataAnnotations; <see cref="S3StoreOptionsValidator"/> checks them and the rules that involve
/// several fields, with messages naming the configuration key (for example <c>InputPipelineCheckpointing:S3:Bucket</c>).
/// </remarks>
public sealed class S3StoreOptions
{
    /// <summary>The configuration section the options are bound from: <c>InputPipelineCheckpointing:S3</c>.</summary>
    public const string SectionPath = "InputPipelineCheckpointing:S3";

    /// <summary>The smallest part S3 accepts (except for the last part of an upload): 5 MiB.</summary>
    public const int MinPartSize = 5 * 1024 * 1024;

    /// <summary>
    /// The largest <see cref="PartSize"/> and <see cref="MultipartThreshold"/> accepted: 512 MiB. Each in-flight part is
    /// one pooled buffer of that size, so this bounds the memory an upload holds.
    /// </summary>
    public const int MaxPartSize = 512 * 1024 * 1024;

    /// <summary>The default <see cref="MultipartThreshold"/>: 16 MiB.</summary>
    public const int DefaultMultipartThreshold = 16 * 1024 * 1024;

    /// <summary>The default <see cref="PartSize"/>: 16 MiB.</summary>
    public const int DefaultPartSize = 16 * 1024 * 1024;

    /// <summary>
    /// The default <see cref="SeekableMultipartThreshold"/>: 128 MiB (Amazon S3 suggests multipart uploads from about
    /// 100 MB on; below that one request is as fast as sequential parts and saves the multipart round trips).
    /// </summary>
    public const int DefaultSeekableMultipartThreshold = 128 * 1024 * 1024;

    /// <summary>The largest <see cref="SeekableMultipartThreshold"/> accepted: 1 GiB (a single request is never retried in part).</summary>
    public const int MaxSeekableMultipartThreshold = 1024 * 1024 * 1024;

    /// <summary>The default <see cref="MaxErrorRetry"/>: 4 retries (5 attempts in all).</summary>
    public const int DefaultMaxErrorRetry = 4;

    /// <summary>The largest <see cref="MaxErrorRetry"/> accepted: 20.</summary>
    public const int MaxMaxErrorRetry = 20;

    /// <summary>The default <see cref="RetryMode"/>: <see cref="RequestRetryMode.Standard"/>.</summary>
    public const RequestRetryMode DefaultRetryMode = RequestRetryMode.Standard;

    /// <summary>The default <see cref="RequestChecksumCalculation"/>: <see cref="Amazon.Runtime.RequestChecksumCalculation.WHEN_SUPPORTED"/>.</summary>
    public const RequestChecksumCalculation DefaultRequestChecksumCalculation = Amazon.Runtime.RequestChecksumCalculation.WHEN_SUPPORTED;

    /// <summary>
    /// The default <see cref="ResponseChecksumValidation"/>: <see cref="Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED"/>,
    /// since the checkpoint manager verifies every part it restores with its own checksum.
    /// </summary>
    public const ResponseChecksumValidation DefaultResponseChecksumValidation = Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED;

    /// <summary>The server-side encryption values passed through: <c>AES256</c>, <c>aws:kms</c> and <c>aws:kms:dsse</c>.</summary>
    public static IReadOnlyList<string> ServerSideEncryptionValues { get; } = ["AES256", "aws:kms", "aws:kms:dsse"];

    /// <summary>The default <see cref="Timeout"/> of one HTTP request: 100 seconds.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(100);

    /// <summary>The default <see cref="ConnectTimeout"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the bucket that holds the checkpoints. Required; no default.</summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = SectionPath + ":Bucket: the bucket is not set.")]
    public string? Bucket { get; set; }

    /// <summary>
    /// Gets or sets the key prefix every object of the store lives under, for example <c>jobs/resnet/</c>. A leading
    /// <c>/</c> is removed and a trailing <c>/</c> added (see <see cref="NormalizedPrefix"/>). Default empty: the bucket's root.
    /// </summary>
    public string? Prefix { get; set; }

    /// <summary>
    /// Gets or sets the AWS region of the bucket, for example <c>eu-west-1</c>. With <see cref="ServiceUrl"/> it is the
    /// signing region (<c>us-east-1</c> when not set). Default <see langword="null"/>: the SDK's region chain
    /// (<c>AWS_REGION</c>, the profile).
    /// </summary>
    public string? Region { get; set; }

    /// <summary>
    /// Gets or sets the endpoint of an S3-compatible service (MinIO, Ceph, Cloudflare R2, moto), for example
    /// <c>http://127.0.0.1:9000</c>. Default <see langword="null"/>: Amazon S3 in <see cref="Region"/>.
    /// </summary>
    public Uri? ServiceUrl { get; set; }

    /// <summary>
    /// Gets or sets whether the bucket is addressed in the path (<c>http://host/bucket/key</c>) rather than as a
    /// virtual host (<c>http://bucket.host/key</c>); most S3-compatible services need it. Default <see langword="false"/>.
    /// </summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>
    /// Gets or sets whether the store creates the bucket (in <see cref="Region"/>) on first use when it does not
    /// exist. When <see langword="false"/>, a missing bucket makes every request fail with
    /// <see cref="CheckpointStoreException"/> naming it. Default <see langword="false"/>.
    /// </summary>
    public bool CreateBucketIfMissing { get; set; }

    /// <summary>
    /// Gets or sets the AWS profile (in the shared config and credentials files) whose credentials and region are
    /// used. Default <see langword="null"/>: the standard credential chain (<c>AWS_PROFILE</c> or <c>default</c>).
    /// </summary>
    public string? Profile { get; set; }

    /// <summary>
    /// Gets or sets the server-side encryption requested for every object written: <c>AES256</c> (SSE-S3),
    /// <c>aws:kms</c> (SSE-KMS) or <c>aws:kms:dsse</c> (case-insensitive). Default <see langword="null"/>: none requested,
    /// so the bucket's default encryption applies.
    /// </summary>
    public string? ServerSideEncryption { get; set; }

    /// <summary>
    /// Gets or sets the KMS key (id, alias or ARN) for <c>aws:kms</c> encryption; only with <see cref="ServerSideEncryption"/>
    /// <c>aws:kms</c> or <c>aws:kms:dsse</c>. Default <see langword="null"/>: the account's AWS managed key. Redacted by <see cref="ToString"/>.
    /// </summary>
    public string? KmsKeyId { get; set; }

    /// <summary>
    /// Gets or sets the size in bytes up to which content of unknown length (a non-seekable stream) is written with one
    /// <c>PutObject</c>; longer content is written as a multipart upload. The store buffers up to this many bytes (in a
    /// pooled buffer) before it knows which. Content of known length (a seekable stream) follows
    /// <see cref="SeekableMultipartThreshold"/> instead. <see cref="MinPartSize"/> to <see cref="MaxPartSize"/>. Default <see cref="DefaultMultipartThreshold"/>.
    /// </summary>
    [MessageRange(MinPartSize, MaxPartSize, ErrorMessage = SectionPath + ":MultipartThreshold: must be between 5 MiB (5242880) and 512 MiB (536870912) bytes.")]
    public int MultipartThreshold { get; set; } = DefaultMultipartThreshold;

    /// <summary>
    /// Gets or sets the size in bytes of each part of a multipart upload (after the first, which for content of unknown
    /// length is <see cref="MultipartThreshold"/> bytes). An upload of unknown length holds at most two parts in memory
    /// (one uploading, one filling); one of known length sends its parts straight from the content and holds none. S3
    /// allows 10,000 parts, so this also bounds the largest object (about 156 GiB at the default).
    /// <see cref="MinPartSize"/> to <see cref="MaxPartSize"/>. Default <see cref="DefaultPartSize"/>.
    /// </summary>
    [MessageRange(MinPartSize, MaxPartSize, ErrorMessage = SectionPath + ":PartSize: must be between 5 MiB (5242880) and 512 MiB (536870912) bytes.")]
    public int PartSize { get; set; } = DefaultPartSize;

    /// <summary>
    /// Gets or sets the size in bytes up to which content of known length (a seekable stream, such as a snapshot held in
    /// memory) is written with one <c>PutObject</c> that streams straight from the content, with no buffer; longer
    /// content is a multipart upload of <see cref="PartSize"/> parts, each also streamed from the content. A single
    /// request is retried whole (by the SDK, which rewinds the content), so a failure late in a large one costs a full
    /// resend. <see cref="MinPartSize"/> to <see cref="MaxSeekableMultipartThreshold"/>. Default <see cref="DefaultSeekableMultipartThreshold"/>.
    /// </summary>
    [MessageRange(MinPartSize, MaxSeekableMultipartThreshold, ErrorMessage = SectionPath + ":SeekableMultipartThreshold: must be between 5 MiB (5242880) and 1 GiB (1073741824) bytes.")]
    public int SeekableMultipartThreshold { get; set; } = DefaultSeekableMultipartThreshold;

    /// <summary>
    /// Gets or sets how many times the SDK retries a request that failed transiently (a network error, a timeout,
    /// 500, 502, 503, 504 or throttling) before the store gives up with <see cref="CheckpointStoreException"/>. The SDK
    /// waits between attempts with exponential backoff and jitter. 0 to <see cref="MaxMaxErrorRetry"/>. Default <see cref="DefaultMaxErrorRetry"/>.
    /// </summary>
    [MessageRange(0, MaxMaxErrorRetry, ErrorMessage = SectionPath + ":MaxErrorRetry: must be between 0 and 20.")]
    public int MaxErrorRetry { get; set; } = DefaultMaxErrorRetry;

    /// <summary>
    /// Gets or sets the SDK's retry mode: <see cref="RequestRetryMode.Standard"/> (exponential backoff with jitter) or
    /// <see cref="RequestRetryMode.Adaptive"/> (also rate-limits the client when throttled). Default <see cref="DefaultRetryMode"/>.
    /// </summary>
    public RequestRetryMode RetryMode { get; set; } = DefaultRetryMode;

    /// <summary>Gets or sets the timeout of one HTTP request (one attempt). Greater than zero. Default <see cref="DefaultTimeout"/>.</summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout;

    /// <summary>Gets or sets how long a connection to the endpoint may take to open. Greater than zero. Default <see cref="DefaultConnectTimeout"/>.</summary>
    public TimeSpan ConnectTimeout { get; set; } = DefaultConnectTimeout;

    /// <summary>
    /// Gets or sets when the SDK adds a checksum (CRC32) to uploads: <c>WHEN_SUPPORTED</c> (every upload; Amazon S3 and
    /// moto verify it) or <c>WHEN_REQUIRED</c> (only where the API demands one, for S3-compatible services that reject
    /// checksum headers). Default <see cref="DefaultRequestChecksumCalculation"/>.
    /// </summary>
    public RequestChecksumCalculation RequestChecksumCalculation { get; set; } = DefaultRequestChecksumCalculation;

    /// <summary>
    /// Gets or sets whether the SDK verifies downloaded content. <c>WHEN_REQUIRED</c> (the default): it verifies nothing,
    /// and the store reads whole objects as the range <c>bytes=0-</c>, which also skips the MD5-against-ETag check the
    /// SDK otherwise applies to every whole read of an object written in one request, whatever this setting; the
    /// checkpoint manager verifies every part it restores against its own XXH3 checksum, so the SDK's checks would only
    /// repeat it, at several milliseconds of CPU per MiB read. <c>WHEN_SUPPORTED</c>: whole reads are plain, and the
    /// SDK verifies the CRC32 the service stored for the whole object and, for an object written in one request, the
    /// MD5 of its ETag; use it when reading the store's objects without the checkpoint manager. Default
    /// <see cref="DefaultResponseChecksumValidation"/>. With a client given to the store, the client's own setting decides.
    /// </summary>
    public ResponseChecksumValidation ResponseChecksumValidation { get; set; } = DefaultResponseChecksumValidation;

    /// <summary>Gets <see cref="Prefix"/> normalised: no leading <c>/</c>, and ending with <c>/</c> unless empty.</summary>
    public string NormalizedPrefix => NormalizePrefix(Prefix);

    /// <summary>Normalises a key prefix: trims leading <c>/</c>, and adds a trailing <c>/</c> unless it is empty.</summary>
    /// <param name="prefix">The prefix; <see langword="null"/> is the empty prefix.</param>
    /// <returns>The normalised prefix.</returns>
    public static string NormalizePrefix(string? prefix) => StorePrefix.Normalize(prefix);

    /// <summary>Returns the options as text for logs and diagnostics, with <see cref="KmsKeyId"/> and any user info or query of <see cref="ServiceUrl"/> redacted.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder("S3StoreOptions { ");
        text.Append(CultureInfo.InvariantCulture, $"Bucket = {Bucket}, Prefix = {NormalizedPrefix}, Region = {Region}, ServiceUrl = {RedactUrl(ServiceUrl)}, ");
        text.Append(CultureInfo.InvariantCulture, $"ForcePathStyle = {ForcePathStyle}, CreateBucketIfMissing = {CreateBucketIfMissing}, Profile = {Profile}, ");
        text.Append(CultureInfo.InvariantCulture, $"ServerSideEncryption = {ServerSideEncryption}, KmsKeyId = {(string.IsNullOrEmpty(KmsKeyId) ? string.Empty : Redacted)}, ");
        text.Append(CultureInfo.InvariantCulture, $"MultipartThreshold = {MultipartThreshold}, PartSize = {PartSize}, SeekableMultipartThreshold = {SeekableMultipartThreshold}, MaxErrorRetry = {MaxErrorRetry}, RetryMode = {RetryMode}, ");
        text.Append(CultureInfo.InvariantCulture, $"Timeout = {Timeout}, ConnectTimeout = {ConnectTimeout}, RequestChecksumCalculation = {RequestChecksumCalculation}, ResponseChecksumValidation = {ResponseChecksumValidation} }}");
        return text.ToString();
    }

    private const string Redacted = "***";

    private static string RedactUrl(Uri? url)
    {
        if (url is null)
        {
            return string.Empty;
        }

        if (!url.IsAbsoluteUri)
        {
            return url.OriginalString;
        }

        var builder = new UriBuilder(url);
        if (!string.IsNullOrEmpty(builder.UserName) || !string.IsNullOrEmpty(builder.Password))
        {
            builder.UserName = Redacted;
            builder.Password = string.Empty;
        }

        if (!string.IsNullOrEmpty(builder.Query))
        {
            builder.Query = Redacted;
        }

        return builder.Uri.GetComponents(UriComponents.AbsoluteUri, UriFormat.UriEscaped);
    }
}

/// <summary>
/// <see cref="RangeAttribute"/> with integer bounds whose failure message is its <see cref="ValidationAttribute.ErrorMessage"/>
/// as written (naming the configuration key): the options validator generator replaces a plain <c>[Range]</c> with its
/// own copy, which ignores <c>ErrorMessage</c>.
/// </summary>
/// <param name="minimum">The smallest value allowed.</param>
/// <param name="maximum">The largest value allowed.</param>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class MessageRangeAttribute(int minimum, int maximum) : RangeAttribute(minimum, maximum);
