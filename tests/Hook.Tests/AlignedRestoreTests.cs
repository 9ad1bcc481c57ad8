using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// Restore aligned with the model: <see cref="InputRestoreMode.AtStep"/> with a step from the caller (the model's
/// restored global step, or a consistent cut) restores exactly that input checkpoint or fails clearly.
/// </summary>
public sealed class AlignedRestoreTests
{
    [Fact]
    public async Task AtStep_RestoresExactlyThatStep_NotTheLatest()
    {
        InMemoryInputStateStore store = await StoreWithStepsAsync(5, 10, 15);
        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtStep, restoreStep: 10));
        (FakeSession session, CountingIterator iterator) = Session(10);

        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        Assert.Equal(10, hook.RestoredCheckpoint!.Step);
        Assert.Equal(10, iterator.Position);
        Assert.Equal(10, hook.LastCommittedStep);
    }

    [Fact]
    public async Task AtStep_OnAnEmptyChain_FailsClearly_WhereAtGlobalStepStartsFresh()
    {
        var store = new InMemoryInputStateStore();
        await using (var atStep = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtStep, restoreStep: 40)))
        {
            (FakeSession session, _) = Session(40);
            CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(async () => await atStep.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start)));
            Assert.Contains("step 40 (retained steps: none)", ex.Message, StringComparison.Ordinal);
        }

        Assert.Empty(store.Keys);

        await using var atGlobalStep = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtGlobalStep));
        (FakeSession fresh, _) = Session(40);
        await atGlobalStep.BeforeRunAsync(new SessionRunContext(fresh, Ckpt.Start));
        Assert.Null(atGlobalStep.RestoredCheckpoint);
        Assert.Equal(40, atGlobalStep.LastCommittedStep);
    }

    [Fact]
    public async Task AtStep_WhenTheSessionStartsAtAnotherStep_FailsBeforeRestoringAnything()
    {
        InMemoryInputStateStore store = await StoreWithStepsAsync(5, 10);
        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtStep, restoreStep: 10));
        (FakeSession session, CountingIterator iterator) = Session(0);

        CheckpointOptionsException ex = await Assert.ThrowsAsync<CheckpointOptionsException>(async () => await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start)));

        Assert.Equal("RestoreStep", ex.OptionName);
        Assert.Contains("restored at step 10, but the session starts at global step 0", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, iterator.RestoreCount);
    }

    [Fact]
    public async Task AtStep_WithoutAStep_FailsAtTheFirstStep()
    {
        InMemoryInputStateStore store = await StoreWithStepsAsync(5);
        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtStep));
        (FakeSession session, _) = Session(5);

        CheckpointOptionsException ex = await Assert.ThrowsAsync<CheckpointOptionsException>(async () => await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start)));

        Assert.Contains("RestoreAtStep", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AtStep_ADamagedCheckpoint_IsNotReplacedByAnotherStep()
    {
        InMemoryInputStateStore store = await StoreWithStepsAsync(5, 10);
        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, state.Checkpoints.Single(c => c.Step == 10).ManifestKey);
        store.Corrupt(manifest.Parts[0].Key, b => b[..4]);
        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtStep, restoreStep: 10));
        (FakeSession session, CountingIterator iterator) = Session(10);

        await Assert.ThrowsAsync<CheckpointCorruptedException>(async () => await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start)));

        Assert.Null(hook.RestoredCheckpoint);
        Assert.Equal(0, iterator.RestoreCount);
    }

    [Fact]
    public async Task RestoreAtStep_TakesTheModelsRestoredStep_OnAHookFromConfiguration()
    {
        InMemoryInputStateStore store = await StoreWithStepsAsync(5, 10, 15);

        // The model chain's latest sound checkpoint is at 10: the input must be restored there, not at its latest (15).
        using var model = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "model", StateFileKey = "checkpoint" });
        await model.SaveAsync(10, Ckpt.Bytes(("model", [1, 2])));
        long modelStep = (await model.ListCheckpointsAsync())[0].Step;

        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.Latest));
        Assert.Equal(InputRestoreMode.Latest, hook.RestoreMode);
        hook.RestoreAtStep(modelStep);
        Assert.Equal((InputRestoreMode.AtStep, 10L), (hook.RestoreMode, hook.RestoreStep));

        var iterator = new CountingIterator();
        var session = new TrainingSession(modelStep);
        session.Iterators.Add("iterator", iterator);
        var seen = new List<long>();
        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 12, seen: seen);

        Assert.Equal(10, hook.RestoredCheckpoint!.Step);
        Assert.Equal([CountingIterator.ValueAt(10), CountingIterator.ValueAt(11)], seen);
    }

    [Fact]
    public async Task RestoreAtStep_AfterTheFirstStep_IsRefused()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.Latest));
        (FakeSession session, _) = Session(0);
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        Assert.Throws<InvalidOperationException>(() => hook.RestoreAtStep(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointInputPipelineHook(store, Options(InputRestoreMode.Latest)).RestoreAtStep(-1));
    }

    [Fact]
    public async Task AtStep_LaterSessionsOfTheSameHook_ContinueAtTheirOwnGlobalStep()
    {
        InMemoryInputStateStore store = await StoreWithStepsAsync(10, 20);
        await using var hook = new CheckpointInputPipelineHook(store, Options(InputRestoreMode.AtStep, restoreStep: 10));

        var first = new CountingIterator();
        var session1 = new TrainingSession(10);
        session1.Iterators.Add("iterator", first);
        await Ckpt.RunAsync(session1, first, [hook], lastStep: 13);
        Assert.Equal(10, hook.RestoredCheckpoint!.Step);

        var second = new CountingIterator();
        var session2 = new TrainingSession(13);
        session2.Iterators.Add("iterator", second);
        await Ckpt.RunAsync(session2, second, [hook], lastStep: 14);

        Assert.Equal(13, hook.RestoredCheckpoint!.Step);
        Assert.Equal(InputRestoreMode.AtGlobalStep, hook.RestoreMode);
        Assert.Equal(14, second.Position);
    }

    [Fact]
    public void Options_RestoreStep_IsValidated()
    {
        CheckpointOptionsException wrongMode = Assert.Throws<CheckpointOptionsException>(() => Options(InputRestoreMode.Latest, restoreStep: 3).Validate());
        Assert.Equal("RestoreStep", wrongMode.OptionName);
        Assert.Contains("only with RestoreMode AtStep (RestoreMode is Latest)", wrongMode.Message, StringComparison.Ordinal);

        CheckpointOptionsException negative = Assert.Throws<CheckpointOptionsException>(() => Options(InputRestoreMode.AtStep, restoreStep: -1).Validate());
        Assert.Equal("RestoreStep", negative.OptionName);

        Options(InputRestoreMode.AtStep, restoreStep: 0).Validate();
        Options(InputRestoreMode.AtStep).Validate();
    }

    [Fact]
    public async Task Configuration_BindsRestoreStep_IntoTheHook_AndValidatesIt()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:RestoreMode"] = "AtStep",
            ["InputPipelineCheckpointing:RestoreStep"] = "1200",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IInputStateStore>(new InMemoryInputStateStore());
        services.AddInputPipelineCheckpointing(configuration);
        await using (ServiceProvider provider = services.BuildServiceProvider())
        {
            await using CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>();
            Assert.Equal((InputRestoreMode.AtStep, 1200L), (hook.RestoreMode, hook.RestoreStep));
        }

        var invalid = new ServiceCollection();
        invalid.AddInputPipelineCheckpointing(o =>
        {
            o.SaveSteps = 100;
            o.RestoreStep = 1200;
        });
        await using ServiceProvider invalidProvider = invalid.BuildServiceProvider();
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => invalidProvider.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value);
        Assert.Contains("InputPipelineCheckpointing:RestoreStep: is used only with RestoreMode AtStep", ex.Message, StringComparison.Ordinal);
    }

    private static CheckpointInputPipelineHookOptions Options(InputRestoreMode mode, long? restoreStep = null) => new()
    {
        SaveSteps = 5,
        SaveInBackground = false,
        RestoreMode = mode,
        RestoreStep = restoreStep,
    };

    private static (FakeSession Session, CountingIterator Iterator) Session(long globalStep)
    {
        var iterator = new CountingIterator();
        var session = new FakeSession { GlobalStep = globalStep };
        session.Iterators.Add("iterator", iterator);
        return (session, iterator);
    }

    private static async Task<InMemoryInputStateStore> StoreWithStepsAsync(params long[] steps)
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager writer = Ckpt.Manager(store);
        foreach (long step in steps)
        {
            await writer.SaveAsync(step, Ckpt.Bytes(("iterator", BitConverter.GetBytes(step))));
        }

        return store;
    }
}
