using System.Net.Http.Headers;
using Google.Apis.Auth.OAuth2;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// Adds <c>Authorization: Bearer &lt;token&gt;</c> to requests for the store's endpoint, with the token from
/// <see cref="ITokenAccess.GetAccessTokenForRequestAsync"/> (which caches and refreshes it). Requests to any other
/// host, and every request of an anonymous store, go out unchanged.
/// </summary>
internal sealed class GcsAuthenticationHandler : DelegatingHandler
{
    private readonly GcsCredentialSource _credentials;
    private readonly Uri _baseUri;

    public GcsAuthenticationHandler(GcsCredentialSource credentials, Uri baseUri)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(baseUri);
        _credentials = credentials;
        _baseUri = baseUri;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!_credentials.IsAnonymous && request.RequestUri is { } uri && IsSameOrigin(uri))
        {
            ITokenAccess access = await _credentials.GetAsync(cancellationToken).ConfigureAwait(false);
            string token;
            try
            {
                token = await access.GetAccessTokenForRequestAsync(uri.AbsoluteUri, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw new GcsCredentialException($"no access token could be obtained: {ex.Message}", ex);
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private bool IsSameOrigin(Uri uri) =>
        string.Equals(uri.Scheme, _baseUri.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.IdnHost, _baseUri.IdnHost, StringComparison.OrdinalIgnoreCase)
        && uri.Port == _baseUri.Port;
}
