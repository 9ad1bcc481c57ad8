using InputPipeline.Checkpointing.Providers.Internal;
using Azure.Storage.Blobs;
using InputPipeline.Checkpointing.AzureBlob.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.AzureBlob;

/// <summary>
/// Validates <see cref="AzureBlobStoreOptions"/> on start (when <c>AzureBlob</c> is the selected provider): the
/// DataAnnotations on the properties and the rules that involve several options. Every failure names its full
/// configuration key, for example <c>InputPipelineCheckpointing:AzureBlob:Container: the container is not set.</c>;
/// no failure repeats a secret.
/// </summary>
/// <remarks>
/// The cross-option rules: exactly one of <c>ConnectionString</c> and <c>ServiceUri</c> (neither is needed when a
/// <c>BlobServiceClient</c> is registered under <see cref="AzureBlobStoreOptions.ClientServiceKey"/>); the connection
/// string parses; the service URI is an absolute <c>http</c>/<c>https</c> account or container URI, <c>https</c> unless it
/// carries a SAS, and a container URI names <c>Container</c>; <c>MaxRetryDelay</c> is at least <c>RetryDelay</c>; the
/// prefix follows the key rules.
/// </remarks>
public sealed class AzureBlobStoreOptionsValidator : IValidateOptions<AzureBlobStoreOptions>
{
    private static readonly AzureBlobStoreOptionsAnnotationsValidator Annotations = new();
    private readonly IServiceProviderIsKeyedService? _keyedServices;

    /// <summary>Creates a validator that requires a connection string or a service URI.</summary>
    public AzureBlobStoreOptionsValidator()
        : this(null)
    {
    }

    /// <summary>Creates a validator that accepts neither a connection string nor a service URI when the application registered a keyed client.</summary>
    /// <param name="keyedServices">Tells whether a <c>BlobServiceClient</c> is registered under <see cref="AzureBlobStoreOptions.ClientServiceKey"/>; <see langword="null"/> when unknown.</param>
    public AzureBlobStoreOptionsValidator(IServiceProviderIsKeyedService? keyedServices)
    {
        _keyedServices = keyedServices;
    }

    /// <summary>Validates <paramref name="options"/>.</summary>
    /// <param name="name">The options name (unused: the store has one set of options).</param>
    /// <param name="options">The options.</param>
    /// <returns>Success, or every failure found, each naming its configuration key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public ValidateOptionsResult Validate(string? name, AzureBlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool keyedClient = _keyedServices?.IsKeyedService(typeof(BlobServiceClient), AzureBlobStoreOptions.ClientServiceKey) == true;
        List<(string Key, string Message)> failures = Check(options, connectionRequired: !keyedClient);
        return failures.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail([.. failures.Select(f => $"{f.Key}: {f.Message}")]);
    }

    /// <summary>Throws for the first problem of <paramref name="options"/>, mentioning the others.</summary>
    /// <exception cref="CheckpointOptionsException">An option is invalid.</exception>
    internal static void ThrowIfInvalid(AzureBlobStoreOptions options, bool connectionRequired)
    {
        List<(string Key, string Message)> failures = Check(options, connectionRequired);
        if (failures.Count > 0)
        {
            string others = failures.Count == 1 ? string.Empty : " Also: " + string.Join(" ", failures.Skip(1).Select(f => $"{f.Key}: {f.Message}"));
            throw new CheckpointOptionsException(failures[0].Key, failures[0].Message + others);
        }
    }

    private static List<(string Key, string Message)> Check(AzureBlobStoreOptions options, bool connectionRequired)
    {
        var failures = new List<(string Key, string Message)>();
        ValidateOptionsResult annotations = Annotations.Validate(null, options);
        if (annotations.Failed)
        {
            // The generated validator reports "Member: message"; the member name is the configuration key's last part.
            foreach (string failure in annotations.Failures)
            {
                int colon = failure.IndexOf(": ", StringComparison.Ordinal);
                if (colon < 0)
                {
                    failures.Add((AzureBlobStoreOptions.SectionName, failure));
                    continue;
                }

                string member = failure[..colon];
                string message = failure[(colon + 2)..];

                // The generated copy of RangeAttribute ignores ErrorMessage and says "The field AzureBlobStoreOptions.X must be…".
                string generated = $"The field {nameof(AzureBlobStoreOptions)}.{member} ";
                if (message.StartsWith(generated, StringComparison.Ordinal))
                {
                    message = message[generated.Length..];
                }

                failures.Add((Key(member), message));
            }
        }

        bool hasConnectionString = !string.IsNullOrWhiteSpace(options.ConnectionString);
        bool hasServiceUri = options.ServiceUri is not null;
        if (connectionRequired)
        {
            if (hasConnectionString == hasServiceUri)
            {
                failures.Add((
                    $"{Key("ConnectionString")} / {Key("ServiceUri")}",
                    "set exactly one of them (a connection string, or an account or container URI with a SAS or for DefaultAzureCredential); " + (hasConnectionString ? "both are set." : "neither is set.")));
            }

            if (hasConnectionString)
            {
                ValidateConnectionString(options.ConnectionString!, failures);
            }

            if (hasServiceUri)
            {
                ValidateServiceUri(options.ServiceUri!, options.Container, failures);
            }
        }

        CheckRange(failures, "RetryDelay", options.RetryDelay, AzureBlobStoreOptions.MinRetryDelay, AzureBlobStoreOptions.MaxRetryDelayLimit);
        CheckRange(failures, "MaxRetryDelay", options.MaxRetryDelay, AzureBlobStoreOptions.MinRetryDelay, AzureBlobStoreOptions.MaxRetryDelayLimit);
        CheckRange(failures, "NetworkTimeout", options.NetworkTimeout, AzureBlobStoreOptions.MinNetworkTimeout, AzureBlobStoreOptions.MaxNetworkTimeout);
        if (options.MaxRetryDelay < options.RetryDelay)
        {
            failures.Add((Key("MaxRetryDelay"), $"must be at least {Key("RetryDelay")} ({options.RetryDelay}); it is {options.MaxRetryDelay}."));
        }

        ValidatePrefix(options.Prefix, failures);
        return failures;
    }

    private static string Key(string option) => $"{AzureBlobStoreOptions.SectionName}:{option}";

    private static void CheckRange(List<(string Key, string Message)> failures, string option, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        // TimeSpan ranges are checked here: RangeAttribute(Type, string, string) is not trimming safe.
        if (value < min || value > max)
        {
            failures.Add((Key(option), $"must be between {min} and {max}; it is {value}."));
        }
    }

    private static void ValidateConnectionString(string connectionString, List<(string Key, string Message)> failures)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            // The SDK's message may quote the connection string; never repeat it.
            failures.Add((Key("ConnectionString"), "it is not a valid Azure Storage connection string (expected settings such as AccountName, AccountKey and BlobEndpoint or EndpointSuffix, separated by ';')."));
        }
    }

    private static void ValidateServiceUri(Uri uri, string? container, List<(string Key, string Message)> failures)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add((Key("ServiceUri"), "must be an absolute http or https URI of the storage account or container, for example https://account.blob.core.windows.net/."));
            return;
        }

        bool sas = AzureBlobStoreOptions.HasSas(uri);
        if (!sas && uri.Scheme != Uri.UriSchemeHttps)
        {
            failures.Add((Key("ServiceUri"), "without a SAS the requests are authenticated by DefaultAzureCredential, whose tokens are sent over https only; use an https URI or add a SAS query string."));
        }

        var parts = new BlobUriBuilder(uri);
        if (!string.IsNullOrEmpty(parts.BlobName))
        {
            failures.Add((Key("ServiceUri"), $"must be the URI of the storage account or of a container, not of a blob (\"{parts.BlobName}\")."));
        }
        else if (!string.IsNullOrEmpty(parts.BlobContainerName) && container is not null && !string.Equals(parts.BlobContainerName, container, StringComparison.Ordinal))
        {
            failures.Add((Key("ServiceUri"), $"it names the container \"{parts.BlobContainerName}\" but {Key("Container")} is \"{container}\"; they must be the same."));
        }
    }

    private static void ValidatePrefix(string? prefix, List<(string Key, string Message)> failures)
    {
        if (StorePrefix.Problem(prefix, AzureBlobStoreOptions.MaxPrefixLength, utf8Bytes: false) is { } problem)
        {
            failures.Add((Key("Prefix"), problem));
        }
    }
}
