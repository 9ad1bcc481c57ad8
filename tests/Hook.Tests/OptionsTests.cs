using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void HookOptions_Defaults()
    {
        var options = new CheckpointInputPipelineHookOptions();

        Assert.Null(options.SaveSteps);
        Assert.Null(options.SaveSecs);
        Assert.Equal(5, options.KeepMax);
        Assert.Equal(1, options.NumWorkerReplicas);
        Assert.Equal("worker", options.TaskType);
        Assert.Equal(0, options.TaskId);
        Assert.True(options.SaveInBackground);
        Assert.Equal(SaveFailurePolicy.LogAndContinue, options.OnSaveFailure);
        Assert.Equal(InputRestoreMode.Latest, options.RestoreMode);
        Assert.Equal(TimeSpan.FromHours(1), options.OrphanGracePeriod);
        Assert.Equal("input", options.Chain);
    }

    [Fact]
    public void ManagerOptions_Defaults()
    {
        var options = new CheckpointManagerOptions();

        Assert.Equal("input", options.Chain);
        Assert.Null(options.StateFileKey);
        Assert.Equal(5, options.KeepMax);
        Assert.Equal(TimeSpan.FromHours(1), options.OrphanGracePeriod);
        Assert.Equal(10, options.OrphanCollectionInterval);
        Assert.Null(options.WriterId);
    }

    [Fact]
    public void NeitherSaveStepsNorSaveSecs_FailsConstruction()
    {
        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new InMemoryInputStateStore(), new CheckpointInputPipelineHookOptions()));

        Assert.Contains("SaveSteps", ex.OptionName, StringComparison.Ordinal);
        Assert.Contains("SaveSecs", ex.OptionName, StringComparison.Ordinal);
        Assert.Contains("neither", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BothSaveStepsAndSaveSecs_FailConstruction()
    {
        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new InMemoryInputStateStore(), new CheckpointInputPipelineHookOptions { SaveSteps = 1, SaveSecs = 1 }));

        Assert.Contains("SaveSteps", ex.OptionName, StringComparison.Ordinal);
        Assert.Contains("both", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BothAStoreAndAManager_FailConstruction()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);

        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new CheckpointInputPipelineHookOptions { SaveSteps = 1 }, store, manager));

        Assert.Equal("store/manager", ex.OptionName);
    }

    [Fact]
    public void NeitherAStoreNorAManager_FailsConstruction()
    {
        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new CheckpointInputPipelineHookOptions { SaveSteps = 1 }, null, null));

        Assert.Equal("store/manager", ex.OptionName);
    }

    [Fact]
    public void NullStore_IsRejectedWithArgumentNullException_AsDocumented()
    {
        // CheckpointInputPipelineHook(IInputStateStore, options, ...) documents ArgumentNullException for a null store.
        ArgumentNullException ex = Assert.Throws<ArgumentNullException>(() => new CheckpointInputPipelineHook((IInputStateStore)null!, new CheckpointInputPipelineHookOptions { SaveSteps = 1 }));

        Assert.Equal("store", ex.ParamName);
    }

    [Fact]
    public void NullArguments_AreRejected()
    {
        Assert.Throws<ArgumentNullException>(() => new CheckpointInputPipelineHook(new InMemoryInputStateStore(), null!));
        Assert.Throws<ArgumentNullException>(() => new CheckpointInputPipelineHook(null!, new InMemoryInputStateStore(), null));
        Assert.Throws<ArgumentNullException>(() => new CheckpointManager(null!, new CheckpointManagerOptions()));
        Assert.Throws<ArgumentNullException>(() => new CheckpointManager(new InMemoryInputStateStore(), null!));
    }

    [Theory]
    [InlineData("SaveSteps", 0, null, 5, 1, 0)]
    [InlineData("SaveSteps", -1, null, 5, 1, 0)]
    [InlineData("SaveSteps", int.MinValue, null, 5, 1, 0)]
    [InlineData("SaveSecs", null, 0.0, 5, 1, 0)]
    [InlineData("SaveSecs", null, -0.5, 5, 1, 0)]
    [InlineData("SaveSecs", null, double.NaN, 5, 1, 0)]
    [InlineData("SaveSecs", null, double.PositiveInfinity, 5, 1, 0)]
    [InlineData("SaveSecs", null, double.NegativeInfinity, 5, 1, 0)]
    [InlineData("KeepMax", 1, null, 0, 1, 0)]
    [InlineData("KeepMax", 1, null, -5, 1, 0)]
    [InlineData("NumWorkerReplicas", 1, null, 5, 0, 0)]
    [InlineData("TaskId", 1, null, 5, 2, -1)]
    public void OutOfRangeOptions_FailConstruction_NamingTheOption(string option, int? saveSteps, double? saveSecs, int keepMax, int replicas, int taskId)
    {
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = saveSteps, SaveSecs = saveSecs, KeepMax = keepMax, NumWorkerReplicas = replicas, TaskId = taskId };

        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new InMemoryInputStateStore(), options));

        Assert.Equal(option, ex.OptionName);
        Assert.StartsWith(option + ": ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NegativeOrphanGracePeriod_FailsConstruction()
    {
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, OrphanGracePeriod = TimeSpan.FromSeconds(-1) };

        Assert.Equal("OrphanGracePeriod", Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new InMemoryInputStateStore(), options)).OptionName);
    }

    [Theory]
    [InlineData("KeepMax")]
    [InlineData("OrphanGracePeriod")]
    [InlineData("OrphanCollectionInterval")]
    [InlineData("WriterId")]
    public void ManagerOptions_OutOfRange_NameTheOption(string option)
    {
        var options = new CheckpointManagerOptions();
        switch (option)
        {
            case "KeepMax":
                options.KeepMax = 0;
                break;
            case "OrphanGracePeriod":
                options.OrphanGracePeriod = TimeSpan.FromTicks(-1);
                break;
            case "OrphanCollectionInterval":
                options.OrphanCollectionInterval = 0;
                break;
            case "WriterId":
                options.WriterId = string.Empty;
                break;
        }

        Assert.Equal(option, Assert.Throws<CheckpointOptionsException>(() => new CheckpointManager(new InMemoryInputStateStore(), options)).OptionName);
    }

    [Fact]
    public async Task Options_AreCopied_LaterChangesHaveNoEffect()
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, KeepMax = 2 };
        await using var hook = new CheckpointInputPipelineHook(store, options);
        options.KeepMax = 100;
        options.SaveSteps = null;
        options.NumWorkerReplicas = 5;
        var iterator = new CountingIterator();
        var session = new Hosting.TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 5);

        Assert.Equal("input", hook.Chain);
        Assert.Equal([5L, 4L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task ManagerOptions_CustomWriterIdAndStateFileKey_AreUsed()
    {
        var store = new InMemoryInputStateStore();
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "eval", StateFileKey = "state/eval", WriterId = "job-42" });

        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1])));

        Assert.Equal("job-42", manager.WriterId);
        Assert.Equal("job-42", (await Ckpt.ReadStateFileAsync(store, "state/eval")).WriterId);
        Assert.Contains(store.Keys, k => k.StartsWith("eval.ckpt-1.", StringComparison.Ordinal));
    }

    [Fact]
    public void WriterIds_AreUniquePerManager()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager a = Ckpt.Manager(store);
        using CheckpointManager b = Ckpt.Manager(store);

        Assert.NotEqual(a.WriterId, b.WriterId);
    }

    [Fact]
    public void ServiceOptions_MapToHookOptions()
    {
        var options = new InputPipelineCheckpointingOptions
        {
            SaveSecs = 30,
            KeepMax = 9,
            NumWorkerReplicas = 2,
            TaskType = "evaluator",
            TaskId = 4,
            SaveInBackground = false,
            OnSaveFailure = SaveFailurePolicy.Throw,
            RestoreMode = InputRestoreMode.AtGlobalStep,
            OrphanGracePeriod = TimeSpan.FromMinutes(3),
        };

        CheckpointInputPipelineHookOptions hook = options.ToHookOptions();

        Assert.Equal("Local", new InputPipelineCheckpointingOptions().Provider);
        Assert.Equal("InputPipelineCheckpointing", InputPipelineCheckpointingOptions.SectionName);
        Assert.Null(hook.SaveSteps);
        Assert.Equal(30, hook.SaveSecs);
        Assert.Equal(9, hook.KeepMax);
        Assert.Equal("input_evaluator_4", hook.Chain);
        Assert.False(hook.SaveInBackground);
        Assert.Equal(SaveFailurePolicy.Throw, hook.OnSaveFailure);
        Assert.Equal(InputRestoreMode.AtGlobalStep, hook.RestoreMode);
        Assert.Equal(TimeSpan.FromMinutes(3), hook.OrphanGracePeriod);
    }

    [Fact]
    public void Validator_ReportsEveryProblemWithTheSectionPrefix()
    {
        using var services = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(new Microsoft.Extensions.DependencyInjection.ServiceCollection());
        var validator = new InputPipelineCheckpointingOptionsValidator([new InputStateStoreRegistration("Local", _ => new InMemoryInputStateStore())], services);

        Microsoft.Extensions.Options.ValidateOptionsResult ok = validator.Validate(null, new InputPipelineCheckpointingOptions { SaveSteps = 1 });
        Microsoft.Extensions.Options.ValidateOptionsResult bad = validator.Validate(null, new InputPipelineCheckpointingOptions { SaveSteps = 1, KeepMax = 0, Provider = " " });

        Assert.True(ok.Succeeded);
        Assert.True(bad.Failed);
        Assert.Contains(bad.Failures!, f => f.StartsWith("InputPipelineCheckpointing:KeepMax:", StringComparison.Ordinal));
        Assert.Contains(bad.Failures!, f => f.StartsWith("InputPipelineCheckpointing:Provider:", StringComparison.Ordinal) && f.Contains("Local", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_RunsOnlyTheSelectedProvidersValidation()
    {
        using var services = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(new Microsoft.Extensions.DependencyInjection.ServiceCollection());
        int strictCalls = 0;
        InputStateStoreRegistration[] registrations =
        [
            new("Local", _ => new InMemoryInputStateStore()),
            new("Strict", _ => new InMemoryInputStateStore(), _ =>
            {
                strictCalls++;
                return ["InputPipelineCheckpointing:Strict:Bucket: the bucket is not set."];
            }),
        ];
        var validator = new InputPipelineCheckpointingOptionsValidator(registrations, services);

        Microsoft.Extensions.Options.ValidateOptionsResult local = validator.Validate(null, new InputPipelineCheckpointingOptions { SaveSteps = 1, Provider = "Local" });
        Assert.True(local.Succeeded);
        Assert.Equal(0, strictCalls);

        Microsoft.Extensions.Options.ValidateOptionsResult strict = validator.Validate(null, new InputPipelineCheckpointingOptions { SaveSteps = 1, Provider = "strict" });
        Assert.True(strict.Failed);
        Assert.Equal(1, strictCalls);
        Assert.Contains("InputPipelineCheckpointing:Strict:Bucket: the bucket is not set.", strict.Failures!);
    }
}
