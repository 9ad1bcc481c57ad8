using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Tests;

public sealed class PreemptionMonitorTests
{
    [Fact]
    public async Task TheFirstRequestWins_AndCancelsTheToken_AndRaisesTheEventOnce()
    {
        using var monitor = new PreemptionMonitor();
        var raised = new List<PreemptionNotice>();
        monitor.PreemptionRequested += (_, e) => raised.Add(e.Notice);
        Assert.False(monitor.PreemptionToken.IsCancellationRequested);
        Task<PreemptionNotice> waiting = monitor.WaitForPreemptionAsync();
        var deadline = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

        Assert.True(monitor.RequestPreemption(PreemptionReason.AwsSpotInterruption, "spot instance-action terminate", deadline));
        Assert.False(monitor.RequestPreemption(PreemptionReason.HostStopping));

        Assert.True(monitor.IsPreemptionRequested);
        Assert.True(monitor.PreemptionToken.IsCancellationRequested);
        PreemptionNotice notice = Assert.Single(raised);
        Assert.Equal(PreemptionReason.AwsSpotInterruption, notice.Reason);
        Assert.Equal(deadline, notice.Deadline);
        Assert.Same(notice, monitor.Notice);
        Assert.Same(notice, await waiting);
        Assert.Contains("AwsSpotInterruption (spot instance-action terminate; deadline 2026-01-02T03:04:05", notice.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AThrowingHandler_IsLogged_AndTheOthersStillRun()
    {
        var logs = new LogCollector();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        using var monitor = new PreemptionMonitor(loggers.CreateLogger<PreemptionMonitor>());
        bool secondRan = false;
        monitor.PreemptionRequested += (_, _) => throw new InvalidOperationException("boom");
        monitor.PreemptionRequested += (_, _) => secondRan = true;

        Assert.True(monitor.RequestPreemption(PreemptionReason.Application));

        Assert.True(secondRan);
        Assert.Equal(LogLevel.Error, Assert.Single(logs.WithId(3002)).Level);
    }

    [Fact]
    public void ATrigger_RequestsWhenCancelled_WithItsReason()
    {
        using var monitor = new PreemptionMonitor();
        using var stopping = new CancellationTokenSource();
        using CancellationTokenRegistration registration = monitor.RegisterTrigger(PreemptionReason.HostStopping, "SIGTERM", stopping.Token);
        Assert.False(monitor.IsPreemptionRequested);

        stopping.Cancel();

        Assert.Equal(PreemptionReason.HostStopping, monitor.Notice!.Reason);
        Assert.Equal("SIGTERM", monitor.Notice.Detail);
    }

    [Fact]
    public async Task Acknowledging_RunsTheRegisteredWorkOnce_OnlyAfterARequest_AndLateRegistrationsRunAtOnce()
    {
        using var monitor = new PreemptionMonitor();
        int early = 0;
        int late = 0;
        await monitor.RegisterAcknowledgementAsync(_ => { early++; return Task.CompletedTask; });

        await monitor.AcknowledgeAsync(); // no preemption: nothing to acknowledge
        Assert.Equal(0, early);
        Assert.False(monitor.IsAcknowledged);

        monitor.RequestPreemption(PreemptionReason.AzurePreempt);
        await monitor.AcknowledgeAsync();
        await monitor.AcknowledgeAsync();
        Assert.Equal(1, early);
        Assert.True(monitor.IsAcknowledged);

        await monitor.RegisterAcknowledgementAsync(_ => { late++; return Task.CompletedTask; });
        Assert.Equal(1, late);
    }

    [Fact]
    public async Task AFailingAcknowledgement_IsLogged_AndDoesNotFault()
    {
        var logs = new LogCollector();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        using var monitor = new PreemptionMonitor(loggers.CreateLogger<PreemptionMonitor>());
        await monitor.RegisterAcknowledgementAsync(_ => throw new HttpRequestException("down"));
        monitor.RequestPreemption(PreemptionReason.AzurePreempt);

        await monitor.AcknowledgeAsync();

        Assert.Equal(LogLevel.Warning, Assert.Single(logs.WithId(3004)).Level);
    }
}
