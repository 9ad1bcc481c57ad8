using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Preemption.Internal;

/// <summary>
/// Requests a preemption (<see cref="PreemptionReason.HostStopping"/>) when the host starts stopping — SIGTERM, Ctrl+C or
/// <c>StopApplication()</c> — unless <see cref="PreemptionOptions.HandleHostStopping"/> is off.
/// </summary>
internal sealed class HostStoppingPreemptionSource(IHostApplicationLifetime lifetime, PreemptionMonitor monitor, IOptions<PreemptionOptions> options) : IHostedService, IDisposable
{
    internal const string Detail = "the host is stopping (SIGTERM, Ctrl+C or StopApplication)";
    private CancellationTokenRegistration _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.HandleHostStopping)
        {
            _registration = monitor.RegisterTrigger(PreemptionReason.HostStopping, Detail, lifetime.ApplicationStopping);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _registration.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _registration.Dispose();
}
