using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Tests;

/// <summary><c>InputPipelineCheckpointing:Ownership</c> binds, reaches the hook's claim, and an unknown value fails the start naming the key.</summary>
public sealed class OwnershipConfigurationTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-ownership-config");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OwnershipDefaultsToTakeOver_AndFirstWriterWinsBinds_AndReachesTheHooksClaim()
    {
        using IHost defaults = BuildHost(new() { ["InputPipelineCheckpointing:SaveSteps"] = "5" });
        Assert.Equal(OwnershipPolicy.TakeOver, defaults.Services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value.Ownership);

        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:Ownership"] = "FirstWriterWins",
        });
        await host.StartAsync();
        InputPipelineCheckpointingOptions options = host.Services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value;
        Assert.Equal(OwnershipPolicy.FirstWriterWins, options.Ownership);
        Assert.Equal(OwnershipPolicy.FirstWriterWins, options.ToHookOptions().Ownership);

        // The running job (an owner) is not taken over by a hook that leaves the chain to the first writer.
        var store = (InMemoryInputStateStore)host.Services.GetRequiredService<IInputStateStore>();
        using var running = new CheckpointManager(store, new CheckpointManagerOptions());
        await running.SaveAsync(0, Ckpt.Bytes(("iterator", BitConverter.GetBytes(0L))));
        await using CheckpointInputPipelineHook second = host.Services.GetRequiredService<CheckpointInputPipelineHook>();
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await second.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        await running.SaveAsync(1, Ckpt.Bytes(("iterator", BitConverter.GetBytes(1L))));

        Assert.Equal(1, (await Ckpt.ReadStateFileAsync(store)).OwnerEpoch);
        Assert.Null(second.Manager.OwnerEpoch);
        await host.StopAsync();
    }

    [Theory]
    [InlineData("7")]
    [InlineData("-1")]
    public async Task AnOwnershipValueOutOfRange_FailsTheStartNamingTheKey(string value)
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:Ownership"] = value,
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:Ownership:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOwnershipValueThatIsNoPolicyName_FailsTheStartNamingTheKey()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:Ownership"] = "Whoever",
        });

        InvalidOperationException ex = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:Ownership", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunConfig_CarriesOwnershipToTheEstimatorsChains()
    {
        var config = new RunConfig { Store = new InMemoryInputStateStore(), SaveCheckpointsSteps = 1, Ownership = OwnershipPolicy.FirstWriterWins };

        Assert.Equal(OwnershipPolicy.FirstWriterWins, config.ToInputHookOptions().Ownership);
    }

    private IHost BuildHost(Dictionary<string, string?> values)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddSingleton<IInputStateStore>(new InMemoryInputStateStore());
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration);
        builder.Configuration["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("local");
        return builder.Build();
    }
}
