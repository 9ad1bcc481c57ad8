using Google.Apis.Auth.OAuth2;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Gcs;
using InputPipeline.Checkpointing.Gcs.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Google Cloud Storage store with InputPipeline.Checkpointing.</summary>
public static class GcsStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>Gcs</c> provider: <see cref="GcsStoreOptions"/> bound from the <c>Gcs</c> subsection of the
    /// builder's configuration (<c>InputPipelineCheckpointing:Gcs</c>), validated on start by
    /// <see cref="GcsStoreOptionsValidator"/> only when <c>Gcs</c> is the selected provider (messages name the key), an
    /// <see cref="HttpClient"/> named <see cref="GcsInputStateStore.HttpClientName"/> in <c>IHttpClientFactory</c> whose
    /// handler adds the credentials, and a <see cref="GcsInputStateStore"/> created on it when <c>Provider</c> is <c>Gcs</c>.
    /// Credentials are a keyed <see cref="ITokenAccess"/> registered under <see cref="GcsInputStateStore.CredentialServiceKey"/>
    /// if the application registered one, else those the options name. Calling it again is safe: the configuration is
    /// bound and the client registered once, and a further <paramref name="configure"/> is applied after the earlier ones.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddGcsStore(this IInputPipelineCheckpointingBuilder builder, Action<GcsStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        OptionsBuilder<GcsStoreOptions> options = services.AddOptions<GcsStoreOptions>();
        if (builder.Configuration is { } configuration && !services.Any(d => d.ServiceType == typeof(GcsStoreOptionsBound)))
        {
            options.Bind(configuration.GetSection(GcsInputStateStore.GcsProviderName));
            services.AddSingleton<GcsStoreOptionsBound>();
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GcsStoreOptions>, GcsStoreOptionsValidator>());
        if (!services.Any(d => d.ServiceType == typeof(GcsHttpClientRegistered)))
        {
            services.AddSingleton<GcsHttpClientRegistered>();
            services.TryAddSingleton(sp => new GcsCredentialSource(
                sp.GetRequiredService<IOptions<GcsStoreOptions>>().Value,
                sp.GetKeyedService<ITokenAccess>(GcsInputStateStore.CredentialServiceKey)));
            services.AddHttpClient(GcsInputStateStore.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(GcsInputStateStore.CreatePrimaryHandler)
                .AddHttpMessageHandler(sp => new GcsAuthenticationHandler(
                    sp.GetRequiredService<GcsCredentialSource>(),
                    sp.GetRequiredService<IOptions<GcsStoreOptions>>().Value.NormalizedBaseUri()));
        }

        return builder.AddStore(
            GcsInputStateStore.GcsProviderName,
            sp => new GcsInputStateStore(
                sp.GetRequiredService<IOptions<GcsStoreOptions>>().Value,
                sp.GetRequiredService<IHttpClientFactory>().CreateClient(GcsInputStateStore.HttpClientName),
                ownsHttpClient: false,
                sp.GetService<ILoggerFactory>()),
            InputStateStoreRegistration.ValidateOptions<GcsStoreOptions>());
    }

    /// <summary>Marks that the configuration was bound once, so a second call does not bind it twice.</summary>
    private sealed class GcsStoreOptionsBound;

    /// <summary>Marks that the named HTTP client and its credential handler were registered once.</summary>
    private sealed class GcsHttpClientRegistered;
}
