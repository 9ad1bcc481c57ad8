using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Tests;

public sealed class DependencyInjectionTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-di");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Configuration_BindsEveryKey()
    {
        string path = _dir.Combine("ckpt");
        IConfiguration configuration = Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "local",
            ["InputPipelineCheckpointing:SaveSteps"] = "250",
            ["InputPipelineCheckpointing:KeepMax"] = "7",
            ["InputPipelineCheckpointing:NumWorkerReplicas"] = "4",
            ["InputPipelineCheckpointing:TaskType"] = "trainer",
            ["InputPipelineCheckpointing:TaskId"] = "3",
            ["InputPipelineCheckpointing:SaveInBackground"] = "false",
            ["InputPipelineCheckpointing:OnSaveFailure"] = "Throw",
            ["InputPipelineCheckpointing:RestoreMode"] = "AtGlobalStep",
            ["InputPipelineCheckpointing:OrphanGracePeriod"] = "00:10:00",
            ["InputPipelineCheckpointing:Local:Path"] = path,
        });
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(configuration);
        await using ServiceProvider provider = services.BuildServiceProvider();

        InputPipelineCheckpointingOptions options = provider.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value;
        LocalStoreOptions local = provider.GetRequiredService<IOptions<LocalStoreOptions>>().Value;

        Assert.Equal("local", options.Provider);
        Assert.Equal(250, options.SaveSteps);
        Assert.Null(options.SaveSecs);
        Assert.Equal(7, options.KeepMax);
        Assert.Equal(4, options.NumWorkerReplicas);
        Assert.Equal("trainer", options.TaskType);
        Assert.Equal(3, options.TaskId);
        Assert.False(options.SaveInBackground);
        Assert.Equal(SaveFailurePolicy.Throw, options.OnSaveFailure);
        Assert.Equal(InputRestoreMode.AtGlobalStep, options.RestoreMode);
        Assert.Equal(TimeSpan.FromMinutes(10), options.OrphanGracePeriod);
        Assert.Equal(path, local.Path);
    }

    [Fact]
    public async Task Configuration_ResolvesTheLocalStoreAtThePath_AndAHookWithTheConfiguredCadenceAndRetention()
    {
        string path = _dir.Combine("ckpt");
        IConfiguration configuration = Configuration(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "10",
            ["InputPipelineCheckpointing:KeepMax"] = "2",
            ["InputPipelineCheckpointing:Local:Path"] = path,
        });
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(configuration);
        await using ServiceProvider provider = services.BuildServiceProvider();

        LocalInputStateStore store = Assert.IsType<LocalInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>();
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 35);

        Assert.Equal(Path.GetFullPath(path), store.RootPath);
        Assert.Same(store, provider.GetRequiredService<IInputStateStore>());
        Assert.Same(store, hook.Manager.Store);
        Assert.Equal([35L, 30L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.True(File.Exists(Path.Combine(path, "checkpoint_input")));
        Assert.NotSame(hook, provider.GetRequiredService<CheckpointInputPipelineHook>());
    }

    [Fact]
    public async Task Configuration_SaveSecs_UsesTheRegisteredTimeProvider()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var memory = new InMemoryInputStateStore(time);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Memory",
            ["InputPipelineCheckpointing:SaveSecs"] = "60",
            ["InputPipelineCheckpointing:KeepMax"] = "10",
        })).AddStore("Memory", _ => memory);
        await using ServiceProvider provider = services.BuildServiceProvider();
        CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>();
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 10, time: time, eachStep: () => time.Advance(TimeSpan.FromSeconds(25)));

        Assert.Same(time, hook.TimeProvider);
        Assert.Equal([10L, 9L, 6L, 3L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task HostStart_WithValidConfiguration_Succeeds()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("ok"),
        });

        await host.StartAsync();
        await host.StopAsync();
    }

    [Theory]
    [InlineData("SaveSteps", "0", "InputPipelineCheckpointing:SaveSteps")]
    [InlineData("SaveSteps", "-3", "InputPipelineCheckpointing:SaveSteps")]
    [InlineData("SaveSecs", "0", "InputPipelineCheckpointing:SaveSecs")]
    [InlineData("SaveSecs", "-1.5", "InputPipelineCheckpointing:SaveSecs")]
    [InlineData("SaveSecs", "NaN", "InputPipelineCheckpointing:SaveSecs")]
    [InlineData("KeepMax", "0", "InputPipelineCheckpointing:KeepMax")]
    [InlineData("NumWorkerReplicas", "0", "InputPipelineCheckpointing:NumWorkerReplicas")]
    [InlineData("TaskId", "-1", "InputPipelineCheckpointing:TaskId")]
    [InlineData("OrphanGracePeriod", "-00:01:00", "InputPipelineCheckpointing:OrphanGracePeriod")]
    public async Task HostStart_WithAnInvalidOption_FailsNamingTheKey(string key, string value, string expectedKey)
    {
        var settings = new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("bad"),
            [$"InputPipelineCheckpointing:{key}"] = value,
        };
        if (key != "SaveSteps" && key != "SaveSecs")
        {
            settings["InputPipelineCheckpointing:SaveSteps"] = "5";
        }

        using IHost host = BuildHost(settings);

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expectedKey + ":", ex.Message, StringComparison.Ordinal);
        Assert.Equal(typeof(InputPipelineCheckpointingOptions), ex.OptionsType);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("5", "10")]
    public async Task HostStart_WithNeitherOrBothCadences_FailsNamingBothKeys(string? steps, string? secs)
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = steps,
            ["InputPipelineCheckpointing:SaveSecs"] = secs,
            ["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("bad"),
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:SaveSteps", ex.Message, StringComparison.Ordinal);
        Assert.Contains("SaveSecs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostStart_WithAnUnknownProvider_FailsNamingTheRegisteredProviders()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Provider"] = "S4",
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
        });
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddStore("Memory", _ => new InMemoryInputStateStore());
        using IHost host = builder.Build();

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:Provider", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"S4\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Local", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Memory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralInvalidOptions_AreAllReported()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Nope",
            ["InputPipelineCheckpointing:SaveSteps"] = "0",
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(2, ex.Failures.Count());
    }

    [Fact]
    public async Task ActionOverload_ConfiguresOptionsAndTheLocalStore()
    {
        string path = _dir.Combine("action");
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o =>
        {
            o.SaveSteps = 3;
            o.KeepMax = 1;
        }, local => local.Path = path);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        LocalInputStateStore store = Assert.IsType<LocalInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>();
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 7);

        Assert.Equal(Path.GetFullPath(path), store.RootPath);
        Assert.Equal([7L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task ActionOverload_ValidatesOnStart()
    {
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o => o.KeepMax = 0);
        await using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("InputPipelineCheckpointing:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallingAddInputPipelineCheckpointingTwice_IsSafe()
    {
        string path = _dir.Combine("twice");
        IConfiguration configuration = Configuration(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "2",
            ["InputPipelineCheckpointing:Local:Path"] = path,
        });
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(configuration);
        services.AddInputPipelineCheckpointing(configuration);
        await using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Single(provider.GetServices<IValidateOptions<InputPipelineCheckpointingOptions>>().OfType<InputPipelineCheckpointingOptionsValidator>());
        Assert.Single(provider.GetServices<InputStateStoreRegistration>());
        Assert.Single(provider.GetServices<IInputStateStore>());
        Assert.Single(provider.GetServices<CheckpointInputPipelineHook>());
        Assert.IsType<LocalInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        Assert.Equal(2, provider.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value.SaveSteps);
    }

    [Fact]
    public async Task AddStore_RegistersACustomProvider_SelectableByNameIgnoringCase()
    {
        var memory = new InMemoryInputStateStore();
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "memory",
            ["InputPipelineCheckpointing:SaveSteps"] = "1",
        })).AddStore("Memory", _ => memory);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>();
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 2);

        Assert.Same(memory, provider.GetRequiredService<IInputStateStore>());
        Assert.Contains("checkpoint_input", memory.Keys);
    }

    [Fact]
    public async Task AddStore_Twice_TheLastRegistrationWins()
    {
        var first = new InMemoryInputStateStore();
        var second = new InMemoryInputStateStore();
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o =>
        {
            o.Provider = "Memory";
            o.SaveSteps = 1;
        }).AddStore("Memory", _ => first).AddStore("MEMORY", _ => second);
        await using ServiceProvider provider = services.BuildServiceProvider();

        Assert.Same(second, provider.GetRequiredService<IInputStateStore>());
        Assert.Equal(2, provider.GetServices<InputStateStoreRegistration>().Count());
    }

    [Fact]
    public void AddStore_RejectsBadArguments()
    {
        IInputPipelineCheckpointingBuilder builder = new ServiceCollection().AddInputPipelineCheckpointing(o => o.SaveSteps = 1);

        Assert.Throws<ArgumentException>(() => builder.AddStore(string.Empty, _ => new InMemoryInputStateStore()));
        Assert.Throws<ArgumentNullException>(() => builder.AddStore("X", null!));
        Assert.Throws<ArgumentNullException>(() => ((IInputPipelineCheckpointingBuilder)null!).AddStore("X", _ => new InMemoryInputStateStore()));
        Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddInputPipelineCheckpointing((IConfiguration)null!));
    }

    [Fact]
    public void Builder_ExposesServicesAndTheBoundSection()
    {
        var services = new ServiceCollection();
        IInputPipelineCheckpointingBuilder fromConfig = services.AddInputPipelineCheckpointing(Configuration(new() { ["InputPipelineCheckpointing:SaveSteps"] = "1" }));
        IInputPipelineCheckpointingBuilder fromAction = new ServiceCollection().AddInputPipelineCheckpointing(o => o.SaveSteps = 1);

        Assert.Same(services, fromConfig.Services);
        Assert.Equal("1", fromConfig.Configuration!["SaveSteps"]);
        Assert.Null(fromAction.Configuration);
    }

    [Fact]
    public void ResolvingTheStore_WithAnUnknownProvider_ThrowsAValidationErrorNamingTheProviders()
    {
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o =>
        {
            o.Provider = "Nope";
            o.SaveSteps = 1;
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IInputStateStore>());

        Assert.Contains("InputPipelineCheckpointing:Provider", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Local", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Path", "", "InputPipelineCheckpointing:Local:Path")]
    [InlineData("Path", "   ", "InputPipelineCheckpointing:Local:Path")]
    [InlineData("LockTimeout", "00:00:00", "InputPipelineCheckpointing:Local:LockTimeout")]
    public async Task HostStart_WithAnInvalidLocalOption_FailsNamingTheKey(string key, string value, string expectedKey)
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            [$"InputPipelineCheckpointing:Local:{key}"] = value,
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expectedKey, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHookResolvedFromTheContainer_CanBeDisposedByItsUser_AndThenByTheContainer()
    {
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o =>
        {
            o.Provider = "Memory";
            o.SaveSteps = 1;
        }).AddStore("Memory", _ => new InMemoryInputStateStore());
        ServiceProvider provider = services.BuildServiceProvider();
        await using (CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>())
        {
            var iterator = new CountingIterator();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            await Ckpt.RunAsync(session, iterator, [hook], lastStep: 2);
        }

        Exception? ex = await Record.ExceptionAsync(async () => await provider.DisposeAsync());

        Assert.Null(ex);
    }

    [Fact]
    public void DisposingTheProviderSynchronously_AfterResolvingAHook_DoesNotThrow()
    {
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o =>
        {
            o.Provider = "Memory";
            o.SaveSteps = 1;
        }).AddStore("Memory", _ => new InMemoryInputStateStore());
        ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<CheckpointInputPipelineHook>();

        Exception? ex = Record.Exception(provider.Dispose);

        Assert.Null(ex);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static IHost BuildHost(Dictionary<string, string?> values)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration);
        return builder.Build();
    }
}
