using Google.Apis.Auth.OAuth2;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>Creates the <see cref="StorageClient"/> a store's options describe, when the application gave it none.</summary>
internal static class GcsClients
{
    /// <summary>The path of the JSON API under the endpoint's root: <c>storage/v1/</c>.</summary>
    public const string ApiPath = "storage/v1/";

    /// <summary>
    /// Builds a client for the endpoint of <paramref name="options"/>, authenticated with <paramref name="credential"/>,
    /// else the service-account key file the options name, else application default credentials; or anonymous. Its
    /// message handler makes up to <see cref="GcsStoreOptions.MaxRetryAttempts"/> + 1 tries of a resumable chunk.
    /// </summary>
    /// <exception cref="InvalidOperationException">No credential could be loaded (the message says which source failed).</exception>
    public static async Task<StorageClient> CreateAsync(GcsStoreOptions options, GoogleCredential? credential, Google.Apis.Http.IHttpClientFactory? httpClientFactory, CancellationToken cancellationToken)
    {
        var builder = new StorageClientBuilder { BaseUri = new Uri(options.NormalizedBaseUri(), ApiPath).AbsoluteUri, HttpClientFactory = httpClientFactory };
        try
        {
            if (options.Anonymous == true || (credential is null && options.IsAnonymous()))
            {
                builder.UnauthenticatedAccess = true;
            }
            else if (credential is not null)
            {
                builder.GoogleCredential = credential;
            }
            else if (!string.IsNullOrEmpty(options.CredentialsFile))
            {
                ServiceAccountCredential key = await CredentialFactory.FromFileAsync<ServiceAccountCredential>(options.CredentialsFile, cancellationToken).ConfigureAwait(false);
                builder.GoogleCredential = key.ToGoogleCredential();
            }

            StorageClient client = await builder.BuildAsync(cancellationToken).ConfigureAwait(false);
            client.Service.HttpClient.MessageHandler.NumTries = options.MaxRetryAttempts + 1;
            return client;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string source = string.IsNullOrEmpty(options.CredentialsFile)
                ? "application default credentials are not available (set InputPipelineCheckpointing:Gcs:CredentialsFile, GOOGLE_APPLICATION_CREDENTIALS, or run on Google Cloud; use Anonymous for an emulator)"
                : $"the service-account key file '{options.CredentialsFile}' could not be loaded";
            throw new InvalidOperationException($"{source}: {FirstLine(ex.Message)}", ex);
        }
    }

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}
