using Azure.Storage.Blobs;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.AzureBlob;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Azure Blob store with InputPipeline.Checkpointing.</summary>
public static class AzureBlobStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>AzureBlob</c> provider: <see cref="AzureBlobStoreOptions"/> bound from the <c>AzureBlob</c>
    /// subsection of the builder's configuration (<c>InputPipelineCheckpointing:AzureBlob</c>), validated on start (only
    /// when <c>AzureBlob</c> is the selected provider) with messages naming the key, and an
    /// <see cref="AzureBlobInputStateStore"/> created from them when <c>Provider</c> is <c>AzureBlob</c>. When the
    /// application registered a <see cref="BlobServiceClient"/> as a keyed service under
    /// <see cref="AzureBlobStoreOptions.ClientServiceKey"/>, the store uses that client, and neither <c>ConnectionString</c>
    /// nor <c>ServiceUri</c> is needed. Calling it again is safe.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddAzureBlobStore(this IInputPipelineCheckpointingBuilder builder, Action<AzureBlobStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        OptionsBuilder<AzureBlobStoreOptions> options = builder.Services.AddOptions<AzureBlobStoreOptions>();
        if (builder.Configuration is { } configuration && !builder.Services.Any(d => d.ServiceType == typeof(AzureBlobStoreOptionsBound)))
        {
            options.Bind(configuration.GetSection(AzureBlobInputStateStore.AzureBlobProviderName));
            builder.Services.AddSingleton<AzureBlobStoreOptionsBound>();
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureBlobStoreOptions>, AzureBlobStoreOptionsValidator>());
        return builder.AddStore(
            AzureBlobInputStateStore.AzureBlobProviderName,
            CreateStore,
            InputStateStoreRegistration.ValidateOptions<AzureBlobStoreOptions>());
    }

    private static AzureBlobInputStateStore CreateStore(IServiceProvider services)
    {
        AzureBlobStoreOptions options = services.GetRequiredService<IOptions<AzureBlobStoreOptions>>().Value;
        ILoggerFactory? loggerFactory = services.GetService<ILoggerFactory>();
        return services.GetKeyedService<BlobServiceClient>(AzureBlobStoreOptions.ClientServiceKey) is { } client
            ? new AzureBlobInputStateStore(client, options, loggerFactory)
            : new AzureBlobInputStateStore(options, loggerFactory);
    }

    /// <summary>Marks that the configuration was bound once, so a second call does not bind it twice.</summary>
    private sealed class AzureBlobStoreOptionsBound;
}
