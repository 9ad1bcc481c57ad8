using InputPipeline.Checkpointing.Providers.Internal;
using System.Text;
using Amazon.Runtime;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.S3;

/// <summary>
/// Validates <see cref="S3StoreOptions"/>: the DataAnnotations on its properties and the rules that involve several
/// fields or a format. Every failure message starts with the full configuration key, for example
/// <c>InputPipelineCheckpointing:S3:Bucket: the bucket is not set.</c>
/// </summary>
/// <remarks>
/// <c>AddS3Store()</c> registers it so that it runs on start when <c>S3</c> is the selected provider; the
/// <see cref="S3InputStateStore"/> constructor runs the same checks.
/// </remarks>
public sealed class S3StoreOptionsValidator : IValidateOptions<S3StoreOptions>
{
    /// <summary>The longest prefix accepted, in UTF-8 bytes: S3's 1,024-byte key limit minus <see cref="StoreKey.MaxKeyBytes"/>.</summary>
    public const int MaxPrefixBytes = 1024 - StoreKey.MaxKeyBytes;

    private const string Section = S3StoreOptions.SectionPath;

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public ValidateOptionsResult Validate(string? name, S3StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string[] failures = [.. Problems(options).Select(p => $"{p.Key}: {p.Message}")];
        return failures.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws the first problem of <paramref name="options"/>, if any.</summary>
    /// <exception cref="CheckpointOptionsException">An option is missing or invalid; the message names its key.</exception>
    internal static void ThrowIfInvalid(S3StoreOptions options)
    {
        foreach ((string key, string message) in Problems(options))
        {
            throw new CheckpointOptionsException(key, message);
        }
    }

    /// <summary>Returns each problem as its full configuration key and what is wrong.</summary>
    internal static IEnumerable<(string Key, string Message)> Problems(S3StoreOptions options)
    {
        ValidateOptionsResult annotations = new S3StoreOptionsAnnotationsValidator().Validate(null, options);
        if (annotations.Failed)
        {
            foreach (string failure in annotations.Failures ?? [])
            {
                yield return Split(failure);
            }
        }

        if (!string.IsNullOrEmpty(options.Bucket) && BucketProblem(options.Bucket) is { } bucketProblem)
        {
            yield return ($"{Section}:Bucket", bucketProblem);
        }

        if (StorePrefix.Problem(options.Prefix, MaxPrefixBytes, utf8Bytes: true) is { } prefixProblem)
        {
            yield return ($"{Section}:Prefix", prefixProblem);
        }

        if (options.Region is { } region && (region.Length == 0 || !region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            yield return ($"{Section}:Region", $"\"{region}\" is not a region name such as us-east-1 (lower-case letters, digits and '-').");
        }

        if (options.ServiceUrl is { } url && !(url.IsAbsoluteUri && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)))
        {
            yield return ($"{Section}:ServiceUrl", $"\"{url.OriginalString}\" is not an absolute http or https URL.");
        }

        if (options.Profile is { } profile && string.IsNullOrWhiteSpace(profile))
        {
            yield return ($"{Section}:Profile", "the profile name is blank; remove the key to use the default credential chain.");
        }

        string? encryption = CanonicalEncryption(options.ServerSideEncryption);
        if (options.ServerSideEncryption is not null && encryption is null)
        {
            yield return ($"{Section}:ServerSideEncryption", $"\"{options.ServerSideEncryption}\" is not one of {string.Join(", ", S3StoreOptions.ServerSideEncryptionValues)}.");
        }

        if (!string.IsNullOrEmpty(options.KmsKeyId) && encryption is not ("aws:kms" or "aws:kms:dsse"))
        {
            yield return ($"{Section}:KmsKeyId", $"a KMS key is set but {Section}:ServerSideEncryption is not aws:kms or aws:kms:dsse.");
        }

        if (options.KmsKeyId is { Length: 0 })
        {
            yield return ($"{Section}:KmsKeyId", "the KMS key is empty; remove the key to use the account's AWS managed key.");
        }

        if (!Enum.IsDefined(options.RetryMode))
        {
            yield return ($"{Section}:RetryMode", $"must be {RequestRetryMode.Standard} or {RequestRetryMode.Adaptive}; it is {options.RetryMode}.");
        }

        if (!Enum.IsDefined(options.RequestChecksumCalculation))
        {
            yield return ($"{Section}:RequestChecksumCalculation", $"must be {RequestChecksumCalculation.WHEN_SUPPORTED} or {RequestChecksumCalculation.WHEN_REQUIRED}; it is {options.RequestChecksumCalculation}.");
        }

        if (!Enum.IsDefined(options.ResponseChecksumValidation))
        {
            yield return ($"{Section}:ResponseChecksumValidation", $"must be {ResponseChecksumValidation.WHEN_SUPPORTED} or {ResponseChecksumValidation.WHEN_REQUIRED}; it is {options.ResponseChecksumValidation}.");
        }

        if (options.Timeout <= TimeSpan.Zero)
        {
            yield return ($"{Section}:Timeout", $"must be greater than zero; it is {options.Timeout}.");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero)
        {
            yield return ($"{Section}:ConnectTimeout", $"must be greater than zero; it is {options.ConnectTimeout}.");
        }
    }

    /// <summary>Returns the canonical spelling of a server-side encryption value, or <see langword="null"/> when it is none of them.</summary>
    internal static string? CanonicalEncryption(string? value) =>
        value is null ? null : S3StoreOptions.ServerSideEncryptionValues.FirstOrDefault(v => string.Equals(v, value, StringComparison.OrdinalIgnoreCase));

    private static (string Key, string Message) Split(string failure)
    {
        // The DataAnnotations messages are "<key>: <message>"; the generated validator may put text before them.
        int start = failure.IndexOf(Section + ":", StringComparison.Ordinal);
        if (start >= 0)
        {
            int colon = failure.IndexOf(": ", start, StringComparison.Ordinal);
            if (colon > start)
            {
                return (failure[start..colon], failure[(colon + 2)..].TrimEnd('\'', '.', ' ') + ".");
            }
        }

        return (Section, failure);
    }

    private static string? BucketProblem(string bucket)
    {
        if (bucket.Length is < 3 or > 255)
        {
            return $"\"{bucket}\" is not a bucket name: it must be 3 to 255 characters long (63 for new Amazon S3 buckets).";
        }

        foreach (char c in bucket)
        {
            if (c is '/' or '\\' || char.IsWhiteSpace(c) || char.IsControl(c) || !char.IsAscii(c))
            {
                return $"\"{bucket}\" is not a bucket name: it contains '{c}'. Put folders in {Section}:Prefix.";
            }
        }

        return null;
    }
}

/// <summary>Checks the DataAnnotations of <see cref="S3StoreOptions"/> with source-generated (trimming-safe) code.</summary>
[OptionsValidator]
internal sealed partial class S3StoreOptionsAnnotationsValidator : IValidateOptions<S3StoreOptions>;
