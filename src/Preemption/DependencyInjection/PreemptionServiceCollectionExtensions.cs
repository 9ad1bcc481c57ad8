using System.Net;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Preemption;
using InputPipeline.Checkpointing.Preemption.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers graceful preemption handling with InputPipeline.Checkpointing.</summary>
public static class PreemptionServiceCollectionExtensions
{
    /// <summary>The largest metadata answer read: 1 MiB.</summary>
    private const int MaxAnswerBytes = 1024 * 1024;

    /// <summary>
    /// Registers graceful preemption handling: <see cref="PreemptionOptions"/> bound from the <c>Preemption</c> subsection
    /// of the builder's configuration (<c>InputPipelineCheckpointing:Preemption</c>, with <c>Aws</c>, <c>Azure</c> and
    /// <c>Gce</c> subsections) and validated on start with messages naming the key; the <see cref="PreemptionMonitor"/>
    /// (singleton); <see cref="PreemptionHook"/> (transient: one per training run); a hosted service that requests a
    /// preemption when the host stops (SIGTERM) unless <c>HandleHostStopping</c> is off; and one hosted service per
    /// cloud notice source (AWS spot <c>instance-action</c>, Azure Scheduled Events <c>Preempt</c>, GCE
    /// <c>preempted</c>), each polling only when its <c>Enabled</c> is set. Calling it again is safe.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <param name="configure">Further configures the options, after binding; <see langword="null"/> (the default) for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddPreemptionHandling(this IInputPipelineCheckpointingBuilder builder, Action<PreemptionOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        OptionsBuilder<PreemptionOptions> options = services.AddOptions<PreemptionOptions>();
        bool firstCall = !services.Any(d => d.ServiceType == typeof(PreemptionHandlingMarker));
        if (firstCall)
        {
            services.AddSingleton<PreemptionHandlingMarker>();
            if (builder.Configuration is { } configuration)
            {
                options.Bind(configuration.GetSection(PreemptionOptions.SectionName));
            }

            options.ValidateOnStart();
            AddClient(services, AwsSpotNoticePoller.ClientName);
            AddClient(services, AzureScheduledEventsPoller.ClientName);
            AddClient(services, GcePreemptionNoticePoller.ClientName);
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PreemptionOptions>, PreemptionOptionsValidator>());
        services.TryAddSingleton(sp => new PreemptionMonitor(sp.GetService<ILogger<PreemptionMonitor>>(), sp.GetService<TimeProvider>()));
        services.TryAddTransient(sp => new PreemptionHook(sp.GetRequiredService<PreemptionMonitor>(), sp.GetService<ILogger<PreemptionHook>>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, HostStoppingPreemptionSource>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AwsSpotNoticePoller>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AzureScheduledEventsPoller>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GcePreemptionNoticePoller>());
        return builder;
    }

    private static void AddClient(IServiceCollection services, string name) =>
        services.AddHttpClient(name, client =>
            {
                // Each request carries its own timeout (RequestTimeout, plus the wait of a GCE wait_for_change).
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.MaxResponseContentBufferSize = MaxAnswerBytes;
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // A link-local metadata service is never reached through a proxy (HTTP_PROXY would break it).
                UseProxy = false,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                ConnectTimeout = TimeSpan.FromSeconds(5),
            })

            // One request every few seconds is not worth an Information line each.
            .RemoveAllLoggers();

    /// <summary>Marks that the configuration was bound once, so a second call does not bind it twice.</summary>
    private sealed class PreemptionHandlingMarker;
}
