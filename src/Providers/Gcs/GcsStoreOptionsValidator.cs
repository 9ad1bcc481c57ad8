using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Gcs;

/// <summary>
/// Validates <see cref="GcsStoreOptions"/>: the DataAnnotations on its properties (required bucket, bucket name,
/// ranges) and the rules that involve several settings or the file system (chunk size a multiple of 256 KiB, a
/// prefix that is a valid key, an absolute <c>http</c>/<c>https</c> base URI, an existing credentials file not combined
/// with <c>Anonymous</c>, a project when the bucket may be created, retry delays in order). Each failure message
/// starts with the full configuration key, for example <c>InputPipelineCheckpointing:Gcs:Bucket: the bucket is not set.</c>
/// </summary>
public sealed class GcsStoreOptionsValidator : IValidateOptions<GcsStoreOptions>
{
    /// <summary>Validates <paramref name="options"/>.</summary>
    /// <param name="name">The options name (unused: the Gcs store has one set of options).</param>
    /// <param name="options">The options.</param>
    /// <returns>Success, or every failure, each naming its configuration key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public ValidateOptionsResult Validate(string? name, GcsStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string[] failures = [.. Check(options).Select(f => f.Message)];
        return failures.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Returns every failure of <paramref name="options"/>, in property order.</summary>
    internal static IEnumerable<GcsOptionFailure> Check(GcsStoreOptions options)
    {
        var failures = new List<GcsOptionFailure>();
        CheckAnnotations(options, failures);

        if (options.ChunkSize % GcsStoreOptions.ChunkGranularity != 0)
        {
            Add(failures, nameof(GcsStoreOptions.ChunkSize), $"must be a multiple of {GcsStoreOptions.ChunkGranularity} (256 KiB), as Cloud Storage requires for resumable chunks; it is {options.ChunkSize}.");
        }

        CheckPrefix(options, failures);
        CheckBaseUri(options, failures);

        if (!string.IsNullOrEmpty(options.CredentialsFile))
        {
            if (options.Anonymous == true)
            {
                Add(failures, nameof(GcsStoreOptions.CredentialsFile), "cannot be set when Anonymous is true; remove one of them.");
            }
            else if (!File.Exists(options.CredentialsFile))
            {
                Add(failures, nameof(GcsStoreOptions.CredentialsFile), $"the file '{options.CredentialsFile}' does not exist.");
            }
        }

        if (options.CreateBucketIfMissing && string.IsNullOrWhiteSpace(options.ProjectId))
        {
            Add(failures, nameof(GcsStoreOptions.ProjectId), "is required when CreateBucketIfMissing is true: it is the project a missing bucket is created in.");
        }

        if (options.RetryDelay < TimeSpan.Zero || options.RetryDelay > GcsStoreOptions.MaxTimeSpan)
        {
            Add(failures, nameof(GcsStoreOptions.RetryDelay), $"must be between 00:00:00 and 1.00:00:00; it is {options.RetryDelay}.");
        }

        if (options.MaxRetryDelay < options.RetryDelay || options.MaxRetryDelay > GcsStoreOptions.MaxTimeSpan)
        {
            Add(failures, nameof(GcsStoreOptions.MaxRetryDelay), $"must be at least RetryDelay ({options.RetryDelay}) and at most 1.00:00:00; it is {options.MaxRetryDelay}.");
        }

        if (options.AttemptTimeout < GcsStoreOptions.MinAttemptTimeout || options.AttemptTimeout > GcsStoreOptions.MaxTimeSpan)
        {
            Add(failures, nameof(GcsStoreOptions.AttemptTimeout), $"must be between {GcsStoreOptions.MinAttemptTimeout} and 1.00:00:00; it is {options.AttemptTimeout}.");
        }

        return failures;
    }

    private static void CheckAnnotations(GcsStoreOptions options, List<GcsOptionFailure> failures)
    {
        foreach (PropertyInfo property in typeof(GcsStoreOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            ValidationAttribute[] attributes = [.. property.GetCustomAttributes<ValidationAttribute>(inherit: true)];
            if (attributes.Length == 0)
            {
                continue;
            }

            string key = KeyOf(property.Name);
            var context = new ValidationContext(options, key, serviceProvider: null, items: null) { MemberName = property.Name };
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateValue(property.GetValue(options), context, results, attributes))
            {
                foreach (ValidationResult result in results)
                {
                    failures.Add(new GcsOptionFailure(key, result.ErrorMessage ?? $"{key}: is not valid."));
                }
            }
        }
    }

    private static void CheckPrefix(GcsStoreOptions options, List<GcsOptionFailure> failures)
    {
        if (StorePrefix.Problem(options.Prefix, GcsInputStateStore.MaxPrefixBytes, utf8Bytes: true) is { } problem)
        {
            Add(failures, nameof(GcsStoreOptions.Prefix), problem);
        }
    }

    private static void CheckBaseUri(GcsStoreOptions options, List<GcsOptionFailure> failures)
    {
        Uri? uri = options.BaseUri;
        if (uri is null)
        {
            Add(failures, nameof(GcsStoreOptions.BaseUri), $"is not set; use {GcsStoreOptions.DefaultBaseUri} or an emulator's address.");
        }
        else if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            Add(failures, nameof(GcsStoreOptions.BaseUri), $"\"{uri}\" must be an absolute http or https URI, for example {GcsStoreOptions.DefaultBaseUri}.");
        }
        else if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            Add(failures, nameof(GcsStoreOptions.BaseUri), $"\"{uri.GetLeftPart(UriPartial.Authority)}…\" must not have a query, a fragment or user information.");
        }
    }

    private static void Add(List<GcsOptionFailure> failures, string property, string message)
    {
        string key = KeyOf(property);
        failures.Add(new GcsOptionFailure(key, $"{key}: {message}"));
    }

    private static string KeyOf(string property) => $"{GcsStoreOptions.SectionPath}:{property}";
}

/// <summary>One option failure: the configuration key and the full message (which starts with the key).</summary>
internal readonly record struct GcsOptionFailure(string Key, string Message)
{
    /// <summary>Returns the exception the store's constructor throws for this failure.</summary>
    public CheckpointOptionsException ToException() =>
        new(Key, Message.StartsWith(Key + ": ", StringComparison.Ordinal) ? Message[(Key.Length + 2)..] : Message);
}
