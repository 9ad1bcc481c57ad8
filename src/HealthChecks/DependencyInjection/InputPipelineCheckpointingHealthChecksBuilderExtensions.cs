using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the InputPipeline.Checkpointing health check in an <see cref="IHealthChecksBuilder"/>.</summary>
public static class InputPipelineCheckpointingHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="InputPipelineCheckpointingHealthCheck"/>, which reads the state file of a chain in the registered
    /// <see cref="IInputStateStore"/> (see <c>services.AddInputPipelineCheckpointing(…)</c>): Unhealthy (or
    /// <paramref name="failureStatus"/>) when the store is unreachable, Degraded when the latest checkpoint is older than
    /// <see cref="InputPipelineCheckpointingHealthCheckOptions.MaxAge"/> (one hour by default), Healthy otherwise. Its
    /// options are named <paramref name="name"/> and validated on start. Calling it again with the same name replaces the
    /// registration; add one per chain (say, per worker) under different names.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="configure">
    /// Sets the options; <see langword="null"/> (the default) keeps the defaults: the chain the registered hook writes
    /// (from the <c>InputPipelineCheckpointing</c> options' NumWorkerReplicas, TaskType and TaskId) and a one-hour maximum age.
    /// </param>
    /// <param name="name">The registration name. Default <see cref="InputPipelineCheckpointingHealthCheckOptions.DefaultName"/>.</param>
    /// <param name="failureStatus">The status reported when the store is unreachable; <see langword="null"/> (the default) is <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter the check by, for example <c>ready</c>; <see langword="null"/> (the default) for none.</param>
    /// <param name="timeout">How long a check may take before it is cancelled; <see langword="null"/> (the default) for no limit of its own.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static IHealthChecksBuilder AddInputPipelineCheckpointing(
        this IHealthChecksBuilder builder,
        Action<InputPipelineCheckpointingHealthCheckOptions>? configure = null,
        string name = InputPipelineCheckpointingHealthCheckOptions.DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        IServiceCollection services = builder.Services;
        OptionsBuilder<InputPipelineCheckpointingHealthCheckOptions> options = services.AddOptions<InputPipelineCheckpointingHealthCheckOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options
            .PostConfigure<IServiceProvider>((o, sp) => o.Chain ??= DefaultChain(sp))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InputPipelineCheckpointingHealthCheckOptions>, InputPipelineCheckpointingHealthCheckOptionsValidator>());

        var registration = new HealthCheckRegistration(
            name,
            sp => new InputPipelineCheckpointingHealthCheck(
                sp.GetRequiredService<IInputStateStore>(),
                sp.GetRequiredService<IOptionsMonitor<InputPipelineCheckpointingHealthCheckOptions>>().Get(name),
                sp.GetService<TimeProvider>()),
            failureStatus,
            tags,
            timeout);

        // A second call with the same name replaces the first, instead of failing the health check service on a duplicate.
        services.Configure<HealthCheckServiceOptions>(o =>
        {
            foreach (HealthCheckRegistration existing in o.Registrations.Where(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)).ToList())
            {
                o.Registrations.Remove(existing);
            }

            o.Registrations.Add(registration);
        });
        return builder;
    }

    private static string DefaultChain(IServiceProvider services)
    {
        // Without AddInputPipelineCheckpointing, the options are their defaults, so this is the chain "input".
        InputPipelineCheckpointingOptions? checkpointing = services.GetService<IOptions<InputPipelineCheckpointingOptions>>()?.Value;
        return checkpointing?.ToHookOptions().Chain ?? CheckpointManagerOptions.DefaultChain;
    }
}
