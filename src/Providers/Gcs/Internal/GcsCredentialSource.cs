using Google.Apis.Auth.OAuth2;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// Where the store's credentials come from: an explicit <see cref="ITokenAccess"/>, a service-account key file, or
/// application default credentials, loaded once on first use and scoped to <see cref="GcsInputStateStore.ReadWriteScope"/>;
/// or none at all for an anonymous store.
/// </summary>
internal sealed class GcsCredentialSource
{
    private readonly string? _credentialsFile;
    private readonly Lock _gate = new();
    private Task<ITokenAccess>? _loading;

    public GcsCredentialSource(GcsStoreOptions options, ITokenAccess? credential)
    {
        ArgumentNullException.ThrowIfNull(options);
        // An explicit Anonymous = true wins; otherwise a credential given in code is always used.
        IsAnonymous = options.Anonymous == true || (credential is null && options.IsAnonymous());
        _credentialsFile = options.CredentialsFile;
        if (credential is not null)
        {
            _loading = Task.FromResult(Scoped(credential));
        }
    }

    /// <summary>Gets whether requests go out without credentials.</summary>
    public bool IsAnonymous { get; }

    /// <summary>Returns the credential, loading it on first use; a failed load is tried again at the next call.</summary>
    /// <exception cref="GcsCredentialException">No credential could be loaded.</exception>
    public async Task<ITokenAccess> GetAsync(CancellationToken cancellationToken)
    {
        Task<ITokenAccess> loading;
        lock (_gate)
        {
            loading = _loading ??= LoadAsync();
        }

        try
        {
            return await loading.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (GcsCredentialException)
        {
            lock (_gate)
            {
                if (ReferenceEquals(_loading, loading))
                {
                    _loading = null;
                }
            }

            throw;
        }
    }

    private static ITokenAccess Scoped(ITokenAccess credential) =>
        credential is GoogleCredential google && google.IsCreateScopedRequired
            ? google.CreateScoped(GcsInputStateStore.ReadWriteScope)
            : credential;

    private async Task<ITokenAccess> LoadAsync()
    {
        await Task.Yield();
        try
        {
            GoogleCredential credential = string.IsNullOrEmpty(_credentialsFile)
                ? await GoogleCredential.GetApplicationDefaultAsync(CancellationToken.None).ConfigureAwait(false)
                : (await CredentialFactory.FromFileAsync<ServiceAccountCredential>(_credentialsFile, CancellationToken.None).ConfigureAwait(false)).ToGoogleCredential();
            return Scoped(credential);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string source = string.IsNullOrEmpty(_credentialsFile)
                ? "application default credentials are not available (set InputPipelineCheckpointing:Gcs:CredentialsFile, GOOGLE_APPLICATION_CREDENTIALS, or run on Google Cloud; use Anonymous for an emulator)"
                : $"the service-account key file '{_credentialsFile}' could not be loaded";
            throw new GcsCredentialException($"{source}: {ex.Message}", ex);
        }
    }
}

/// <summary>Credentials could not be loaded or a token could not be obtained; the store reports it as a <see cref="CheckpointStoreException"/>.</summary>
internal sealed class GcsCredentialException(string message, Exception innerException) : Exception(message, innerException);
