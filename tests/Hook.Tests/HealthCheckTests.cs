using InputPipeline.Checkpointing.HealthChecks;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>The health check's states: store unreachable, no checkpoint, stale, healthy; and its registration.</summary>
public sealed class HealthCheckTests
{
    [Fact]
    public async Task ARecentCheckpoint_IsHealthy_WithTheChainStepAndAgeInTheData()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await SaveAsync(store, "input", time, 30);
        time.Advance(TimeSpan.FromMinutes(10));
        var check = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions(), time);

        HealthCheckResult result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("Healthy: the latest checkpoint of chain input is at step 30, 600 s old.", result.Description);
        Assert.Equal("input", result.Data["chain"]);
        Assert.Equal("InMemory", result.Data["provider"]);
        Assert.Equal("checkpoint_input", result.Data["state_file"]);
        Assert.Equal(30L, result.Data["latest_step"]);
        Assert.Equal(600.0, result.Data["age_seconds"]);
        Assert.Equal(3600.0, result.Data["max_age_seconds"]);
        Assert.Equal(1, result.Data["retained_checkpoints"]);
        Assert.Equal("2025-03-01T12:00:00.0000000Z", result.Data["latest_created_at"]);
    }

    [Fact]
    public async Task AnOldCheckpoint_IsDegraded_OrTheConfiguredStaleStatus()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await SaveAsync(store, "input", time, 30);
        time.Advance(TimeSpan.FromMinutes(16));

        var check = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { MaxAge = TimeSpan.FromMinutes(15) }, time);
        HealthCheckResult degraded = await check.CheckHealthAsync(Context(check));
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Equal("Stale: the latest checkpoint of chain input is at step 30, 960 s old, more than the 900 s allowed.", degraded.Description);
        Assert.Equal(960.0, degraded.Data["age_seconds"]);

        var strict = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { MaxAge = TimeSpan.FromMinutes(15), StaleStatus = HealthStatus.Unhealthy }, time);
        Assert.Equal(HealthStatus.Unhealthy, (await strict.CheckHealthAsync(Context(strict))).Status);

        // Exactly at the limit is still healthy.
        var atLimit = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { MaxAge = TimeSpan.FromMinutes(16) }, time);
        Assert.Equal(HealthStatus.Healthy, (await atLimit.CheckHealthAsync(Context(atLimit))).Status);
    }

    [Fact]
    public async Task AnUnreachableStore_IsUnhealthy_OrTheRegistrationsFailureStatus()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        store.Arm(Fault.Crash);
        var check = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions());

        HealthCheckResult result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.IsType<CheckpointStoreException>(result.Exception);
        Assert.StartsWith("The InMemory checkpoint store is unreachable: reading checkpoint_input failed:", result.Description, StringComparison.Ordinal);
        Assert.Equal("input", result.Data["chain"]);
        Assert.False(result.Data.ContainsKey("latest_step"));

        HealthCheckResult lenient = await check.CheckHealthAsync(Context(check, HealthStatus.Degraded));
        Assert.Equal(HealthStatus.Degraded, lenient.Status);
    }

    [Fact]
    public async Task TheCheck_IsOneReadOfTheStateFile()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var memory = new InMemoryInputStateStore(time);
        await SaveAsync(memory, "input", time, 5);
        var store = new FaultInjectingInputStateStore(memory);
        var check = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions(), time);

        await check.CheckHealthAsync(Context(check));

        StoreCall call = Assert.Single(store.Calls);
        Assert.Equal((StoreOperation.Read, "checkpoint_input"), (call.Operation, call.Key));
    }

    [Fact]
    public async Task NoCheckpointYet_OrADamagedStateFile_IsDegraded_OrTheConfiguredStatus()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        var check = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions(), time);

        HealthCheckResult none = await check.CheckHealthAsync(Context(check));
        Assert.Equal(HealthStatus.Degraded, none.Status);
        Assert.Contains("has no checkpoint yet", none.Description, StringComparison.Ordinal);

        var lenient = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { NoCheckpointStatus = HealthStatus.Healthy }, time);
        Assert.Equal(HealthStatus.Healthy, (await lenient.CheckHealthAsync(Context(lenient))).Status);

        await SaveAsync(store, "input", time, 5);
        store.Corrupt("checkpoint_input", b => b[..20]);
        HealthCheckResult damaged = await check.CheckHealthAsync(Context(check));
        Assert.Equal(HealthStatus.Degraded, damaged.Status);
        Assert.IsType<CheckpointCorruptedException>(damaged.Exception);
    }

    [Fact]
    public async Task AWorkersChain_IsWatchedByName()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await SaveAsync(store, "input_worker_1", time, 8);
        var check = new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { Chain = "input_worker_1" }, time);

        HealthCheckResult result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("checkpoint_input_worker_1", check.StateFileKey);
        Assert.Equal(8L, result.Data["latest_step"]);
    }

    [Fact]
    public void InvalidOptions_AreRejected()
    {
        var store = new InMemoryInputStateStore();
        Assert.Equal("MaxAge", Assert.Throws<CheckpointOptionsException>(() => new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { MaxAge = TimeSpan.Zero })).OptionName);
        Assert.Equal("Chain", Assert.Throws<CheckpointOptionsException>(() => new InputPipelineCheckpointingHealthCheck(store, new InputPipelineCheckpointingHealthCheckOptions { Chain = "a/b" })).OptionName);
        Assert.Throws<ArgumentNullException>(() => new InputPipelineCheckpointingHealthCheck(null!, new InputPipelineCheckpointingHealthCheckOptions()));
        Assert.Equal(TimeSpan.FromHours(1), InputPipelineCheckpointingHealthCheckOptions.DefaultMaxAge);
        Assert.Equal("input-pipeline-checkpointing", InputPipelineCheckpointingHealthCheckOptions.DefaultName);
    }

    [Fact]
    public async Task Registration_UsesTheRegisteredStoreClockAndTheHooksChain_AndAddingTwiceReplaces()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await SaveAsync(store, "input_worker_1", time, 12);
        time.Advance(TimeSpan.FromMinutes(2));

        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<IInputStateStore>(store);
        services.AddInputPipelineCheckpointing(o =>
        {
            o.SaveSteps = 10;
            o.NumWorkerReplicas = 2;
            o.TaskId = 1;
        });
        services.AddHealthChecks()
            .AddInputPipelineCheckpointing(o => o.MaxAge = TimeSpan.FromSeconds(1))
            .AddInputPipelineCheckpointing(o => o.MaxAge = TimeSpan.FromMinutes(5), tags: ["ready"])
            .AddInputPipelineCheckpointing(o => o.Chain = "input_worker_0", name: "worker-0");
        await using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(["input-pipeline-checkpointing", "worker-0"], report.Entries.Keys.Order(StringComparer.Ordinal));
        HealthReportEntry own = report.Entries["input-pipeline-checkpointing"];
        Assert.Equal(HealthStatus.Healthy, own.Status);
        Assert.Equal("input_worker_1", own.Data["chain"]);
        Assert.Equal(120.0, own.Data["age_seconds"]);
        Assert.Equal(["ready"], own.Tags);
        Assert.Equal(HealthStatus.Degraded, report.Entries["worker-0"].Status); // no checkpoint yet
        Assert.Equal(HealthStatus.Degraded, report.Status);
    }

    [Fact]
    public async Task Registration_WithAnUnreachableStore_ReportsUnhealthy()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        store.Arm(Fault.Crash);
        var services = new ServiceCollection();
        services.AddSingleton<IInputStateStore>(store);
        services.AddInputPipelineCheckpointing(o => o.SaveSteps = 10);
        services.AddHealthChecks().AddInputPipelineCheckpointing();
        await using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Equal("input", report.Entries["input-pipeline-checkpointing"].Data["chain"]);
    }

    [Fact]
    public async Task Registration_ValidatesItsOptions()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IInputStateStore>(new InMemoryInputStateStore());
        services.AddHealthChecks().AddInputPipelineCheckpointing(o => o.MaxAge = TimeSpan.FromSeconds(-1), name: "bad");
        await using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptionsMonitor<InputPipelineCheckpointingHealthCheckOptions>>().Get("bad"));
        Assert.Contains("Health check \"bad\": MaxAge: must be more than zero", ex.Message, StringComparison.Ordinal);
    }

    private static HealthCheckContext Context(IHealthCheck check, HealthStatus? failureStatus = null) => new()
    {
        Registration = new HealthCheckRegistration("test", check, failureStatus, tags: null),
    };

    private static async Task SaveAsync(IInputStateStore store, string chain, TimeProvider time, long step)
    {
        using CheckpointManager writer = Ckpt.Manager(store, time: time, chain: chain);
        await writer.SaveAsync(step, Ckpt.Bytes(("iterator", BitConverter.GetBytes(step))));
    }
}
