using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.Gcs;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.S3;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>How to reach one store besides its URI: the command-line options <c>--endpoint</c>, <c>--region</c>, <c>--connection-string-env</c>.</summary>
internal sealed record StoreAccess(Uri? Endpoint, string? Region, string? ConnectionStringVariable);

/// <summary>A store opened for a command, disposed with it.</summary>
internal sealed class OpenedStore(StoreUri uri, IInputStateStore store) : IDisposable
{
    public StoreUri Uri { get; } = uri;

    public IInputStateStore Store { get; } = store;

    /// <summary>Gets how the store is named in messages: the URI as the user wrote it (canonical form).</summary>
    public string Display => Uri.ToString();

    public void Dispose() => (Store as IDisposable)?.Dispose();
}

/// <summary>
/// Creates the SDK's stores from a <see cref="StoreUri"/> through each provider's public options and constructor.
/// Credentials come from each cloud's standard chain: the AWS chain (environment, profile, web identity, instance
/// role), Google application default credentials, and for Azure a connection string from an environment variable or
/// else <c>DefaultAzureCredential</c>.
/// </summary>
internal static class StoreFactory
{
    /// <summary>The environment variable read for an Azure connection string when <c>--connection-string-env</c> is not given.</summary>
    public const string DefaultAzureConnectionStringVariable = "AZURE_STORAGE_CONNECTION_STRING";

    /// <exception cref="CliException">The options do not fit the store, a named variable is unset, or the store cannot be created.</exception>
    public static OpenedStore Open(StoreUri uri, StoreAccess access, Func<string, string?> environment, bool mustExist)
    {
        IInputStateStore store;
        try
        {
            store = uri.Kind switch
            {
                StoreUriKind.Local => OpenLocal(uri, access, mustExist),
                StoreUriKind.S3 => OpenS3(uri, access),
                StoreUriKind.Gcs => OpenGcs(uri, access),
                _ => OpenAzure(uri, access, environment),
            };
        }
        catch (CheckpointOptionsException ex)
        {
            throw CliException.BadArguments($"{uri}: {ex.Message}");
        }
        catch (Exception ex) when (ex is not CliException and not CheckpointException and not OperationCanceledException and not OutOfMemoryException)
        {
            // An SDK that fails while building its client (no region, an unreadable profile or key file) fails before any request.
            string hint = uri.Kind == StoreUriKind.S3 && access.Region is null && access.Endpoint is null
                ? " Give --region, or set AWS_REGION or a region in the AWS profile."
                : string.Empty;
            throw CliException.StoreUnavailable($"{uri}: the {uri.ProviderName} store could not be set up: {(hint.Length == 0 ? ex.Message : CliApp.Sentence(ex.Message))}{hint}", ex);
        }

        return new OpenedStore(uri, store);
    }

    private static LocalInputStateStore OpenLocal(StoreUri uri, StoreAccess access, bool mustExist)
    {
        if (access.Endpoint is not null || access.Region is not null || access.ConnectionStringVariable is not null)
        {
            throw CliException.BadArguments($"{uri}: the endpoint, region and connection string options do not apply to a local directory.");
        }

        var store = new LocalInputStateStore(new LocalStoreOptions { Path = uri.LocalPath! });
        if (File.Exists(store.RootPath))
        {
            throw CliException.StoreUnavailable($"{uri}: \"{store.RootPath}\" is a file, not a directory of checkpoints.");
        }

        if (mustExist && !Directory.Exists(store.RootPath))
        {
            throw CliException.StoreUnavailable($"{uri}: the directory \"{store.RootPath}\" does not exist.");
        }

        return store;
    }

    private static S3InputStateStore OpenS3(StoreUri uri, StoreAccess access)
    {
        if (access.ConnectionStringVariable is not null)
        {
            throw CliException.BadArguments($"{uri}: the connection string option applies to az:// stores only.");
        }

        var options = new S3StoreOptions
        {
            Bucket = uri.Bucket,
            Prefix = uri.Prefix,
            Region = access.Region,
            ServiceUrl = access.Endpoint,
            ForcePathStyle = access.Endpoint is not null,
        };
        return new S3InputStateStore(options);
    }

    private static GcsInputStateStore OpenGcs(StoreUri uri, StoreAccess access)
    {
        if (access.Region is not null || access.ConnectionStringVariable is not null)
        {
            throw CliException.BadArguments($"{uri}: the region and connection string options do not apply to gs:// stores.");
        }

        var options = new GcsStoreOptions { Bucket = uri.Bucket, Prefix = uri.Prefix };
        if (access.Endpoint is not null)
        {
            options.BaseUri = access.Endpoint;
        }

        return new GcsInputStateStore(options);
    }

    private static AzureBlobInputStateStore OpenAzure(StoreUri uri, StoreAccess access, Func<string, string?> environment)
    {
        if (access.Region is not null)
        {
            throw CliException.BadArguments($"{uri}: the region option applies to s3:// stores only.");
        }

        var options = new AzureBlobStoreOptions { Container = uri.Bucket, Prefix = uri.Prefix };
        string? connectionString = null;
        if (access.ConnectionStringVariable is { } variable)
        {
            if (access.Endpoint is not null)
            {
                throw CliException.BadArguments($"{uri}: give either --endpoint or --connection-string-env, not both (the connection string names the endpoint).");
            }

            connectionString = environment(variable);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw CliException.BadArguments($"{uri}: the environment variable {variable} (named by --connection-string-env) is not set.");
            }
        }
        else if (access.Endpoint is null)
        {
            string? fromDefault = environment(DefaultAzureConnectionStringVariable);
            if (!string.IsNullOrWhiteSpace(fromDefault) && string.Equals(AccountNameOf(fromDefault), uri.Account, StringComparison.Ordinal))
            {
                connectionString = fromDefault;
            }
        }

        if (connectionString is not null)
        {
            string? account = AccountNameOf(connectionString);
            if (account is not null && !string.Equals(account, uri.Account, StringComparison.Ordinal))
            {
                throw CliException.BadArguments($"{uri}: the connection string is for the account \"{account}\", not \"{uri.Account}\".");
            }

            options.ConnectionString = connectionString;
            return new AzureBlobInputStateStore(options);
        }

        options.ServiceUri = access.Endpoint ?? StoreUri.AzureAccountUri(uri.Account!);
        return new AzureBlobInputStateStore(options);
    }

    /// <summary>Returns the <c>AccountName</c> of a connection string (<c>devstoreaccount1</c> for <c>UseDevelopmentStorage=true</c>), or <see langword="null"/>.</summary>
    internal static string? AccountNameOf(string connectionString)
    {
        foreach (string pair in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            string key = pair[..equals].Trim();
            string value = pair[(equals + 1)..].Trim();
            if (key.Equals("AccountName", StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }

            if (key.Equals("UseDevelopmentStorage", StringComparison.OrdinalIgnoreCase) && value.Equals("true", StringComparison.OrdinalIgnoreCase))
            {
                return "devstoreaccount1";
            }
        }

        return null;
    }
}
