using InputPipeline.Checkpointing.Preemption.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Preemption.Tests;

/// <summary>AddPreemptionHandling: binding, defaults, validation naming the key, idempotence, and the host-stopping trigger.</summary>
public sealed class DependencyInjectionTests
{
    [Fact]
    public void Defaults_HandleHostStopping_AndEverySourceIsOff_OnTheLinkLocalEndpoint()
    {
        using ServiceProvider services = Services([]);
        PreemptionOptions options = services.GetRequiredService<IOptions<PreemptionOptions>>().Value;

        Assert.True(options.HandleHostStopping);
        Assert.All<NoticeSourceOptions>([options.Aws, options.Azure, options.Gce], s =>
        {
            Assert.False(s.Enabled);
            Assert.Equal(new Uri("http://169.254.169.254/"), s.Endpoint);
        });
        Assert.Equal(TimeSpan.FromSeconds(5), options.Aws.PollInterval);
        Assert.Equal(TimeSpan.FromHours(6), options.Aws.TokenTtl);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Azure.PollInterval);
        Assert.Equal("2020-07-01", options.Azure.ApiVersion);
        Assert.True(options.Azure.AcknowledgeAfterSave);
        Assert.True(options.Gce.WaitForChange);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Gce.WaitTimeout);
    }

    [Fact]
    public void TheSectionIsBound_AndTheDelegateAppliesAfterIt()
    {
        using ServiceProvider services = Services(
            [
                new("InputPipelineCheckpointing:Preemption:HandleHostStopping", "false"),
                new("InputPipelineCheckpointing:Preemption:Aws:Enabled", "true"),
                new("InputPipelineCheckpointing:Preemption:Aws:Endpoint", "http://127.0.0.1:9/"),
                new("InputPipelineCheckpointing:Preemption:Aws:TokenTtl", "00:10:00"),
                new("InputPipelineCheckpointing:Preemption:Azure:ResourceName", "vm-1"),
                new("InputPipelineCheckpointing:Preemption:Gce:PollInterval", "00:00:03"),
            ],
            o => o.Gce.WaitForChange = false);
        PreemptionOptions options = services.GetRequiredService<IOptions<PreemptionOptions>>().Value;

        Assert.False(options.HandleHostStopping);
        Assert.True(options.Aws.Enabled);
        Assert.Equal(new Uri("http://127.0.0.1:9/"), options.Aws.Endpoint);
        Assert.Equal(TimeSpan.FromMinutes(10), options.Aws.TokenTtl);
        Assert.Equal("vm-1", options.Azure.ResourceName);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Gce.PollInterval);
        Assert.False(options.Gce.WaitForChange);
    }

    [Fact]
    public void CallingItTwice_RegistersEachServiceOnce()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("InputPipelineCheckpointing:SaveSteps", "10")]).Build();
        var collection = new ServiceCollection();
        collection.AddInputPipelineCheckpointing(configuration).AddPreemptionHandling().AddPreemptionHandling();
        collection.AddSingleton<IHostApplicationLifetime, FakeLifetime>();
        using ServiceProvider services = collection.BuildServiceProvider();

        Type[] hosted = [.. services.GetServices<IHostedService>().Select(s => s.GetType())];
        Assert.Equal(4, hosted.Length);
        Assert.Equal(4, hosted.Distinct().Count());
        Assert.Contains(typeof(HostStoppingPreemptionSource), hosted);
        Assert.Same(services.GetRequiredService<PreemptionMonitor>(), services.GetRequiredService<PreemptionHook>().Monitor);
        Assert.NotSame(services.GetRequiredService<PreemptionHook>(), services.GetRequiredService<PreemptionHook>());
    }

    [Theory]
    [InlineData("Aws:Endpoint", "ftp://169.254.169.254/", "InputPipelineCheckpointing:Preemption:Aws:Endpoint: \"ftp://169.254.169.254/\" is not an absolute http or https URI.")]
    [InlineData("Azure:Endpoint", "metadata", "InputPipelineCheckpointing:Preemption:Azure:Endpoint: \"metadata\" is not an absolute http or https URI.")]
    [InlineData("Aws:PollInterval", "00:00:00", "InputPipelineCheckpointing:Preemption:Aws:PollInterval: must be greater than zero")]
    [InlineData("Gce:RequestTimeout", "-00:00:01", "InputPipelineCheckpointing:Preemption:Gce:RequestTimeout: must be greater than zero")]
    [InlineData("Aws:TokenTtl", "07:00:00", "InputPipelineCheckpointing:Preemption:Aws:TokenTtl: must be between 00:00:01 and 06:00:00")]
    [InlineData("Azure:ApiVersion", " ", "InputPipelineCheckpointing:Preemption:Azure:ApiVersion: the Scheduled Events API version is empty")]
    [InlineData("Azure:ResourceName", " ", "InputPipelineCheckpointing:Preemption:Azure:ResourceName: the VM name is blank")]
    [InlineData("Gce:WaitTimeout", "00:00:00.500", "InputPipelineCheckpointing:Preemption:Gce:WaitTimeout: must be at least 00:00:01")]
    public async Task InvalidSettings_FailTheStart_NamingTheKey(string key, string value, string message)
    {
        var logs = new LogCollector();
        using IHost host = PreemptionTestHost.CreateBuilder([new($"InputPipelineCheckpointing:Preemption:{key}", value)], logs).Build();

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoppingTheHost_RequestsAPreemption_WithReasonHostStopping()
    {
        PreemptionTestHost host = await PreemptionTestHost.StartAsync();
        PreemptionMonitor monitor = host.Monitor;
        Assert.False(monitor.IsPreemptionRequested);

        host.Host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        Assert.Equal(PreemptionReason.HostStopping, monitor.Notice!.Reason);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task WithHandleHostStoppingOff_StoppingTheHostIsNotAPreemption()
    {
        PreemptionTestHost host = await PreemptionTestHost.StartAsync(("InputPipelineCheckpointing:Preemption:HandleHostStopping", "false"));
        PreemptionMonitor monitor = host.Monitor;

        host.Host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await host.Host.StopAsync();

        Assert.False(monitor.IsPreemptionRequested);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task DisabledSources_NeverSendARequest()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(
            ("InputPipelineCheckpointing:Preemption:Aws:Endpoint", "http://127.0.0.1:9/"),
            ("InputPipelineCheckpointing:Preemption:Azure:Endpoint", "http://127.0.0.1:9/"),
            ("InputPipelineCheckpointing:Preemption:Gce:Endpoint", "http://127.0.0.1:9/"));

        Assert.All(host.Host.Services.GetServices<IHostedService>().OfType<NoticePoller>(), p => Assert.Equal(0, p.PollCount));
        Assert.Empty(host.Logs.WithId(3020));
    }

    private static ServiceProvider Services(IEnumerable<KeyValuePair<string, string?>> settings, Action<PreemptionOptions>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("InputPipelineCheckpointing:SaveSteps", "10"), .. settings]).Build();
        var collection = new ServiceCollection();
        collection.AddInputPipelineCheckpointing(configuration).AddPreemptionHandling(configure);
        return collection.BuildServiceProvider();
    }

    private sealed class FakeLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
