using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace InputPipeline.Checkpointing.TorchSharp.Tests;

/// <summary>
/// The model chain beside the input chain, in a plain training loop: saved at the same steps, resumed at the newest
/// step where both verify, so a job that crashes and restarts logs the same loss at every step as one that never did.
/// </summary>
public sealed class TorchCheckpointingTests
{
    [Fact]
    public async Task ACrashedJob_RestartedOnTheSameStore_LogsTheSameLossAtEveryStep()
    {
        (_, long reachedReference, Dictionary<long, uint> reference) = await TestJob.RunAsync(new InMemoryInputStateStore(), 60);
        var store = new InMemoryInputStateStore();

        (long firstStart, long crashedAt, Dictionary<long, uint> first) = await TestJob.RunAsync(store, 60, crashAfter: 37);
        (long restart, long reached, Dictionary<long, uint> second) = await TestJob.RunAsync(store, 60);

        Assert.Equal(60, reachedReference);
        Assert.Equal((0, 37), (firstStart, crashedAt));
        Assert.Contains(restart, new long[] { 30, 20 }); // the last step both chains committed (the save at 30 may still have been in flight)
        Assert.Equal(60, reached);
        Assert.All(first.Concat(second), pair => Assert.Equal(reference[pair.Key], pair.Value));
        Assert.Equal(Enumerable.Range((int)restart + 1, 60 - (int)restart).Select(i => (long)i), second.Keys.Order());
    }

    [Fact]
    public async Task BothChains_AreSavedAtTheSameSteps_UnderTheEstimatorsModelChainNames()
    {
        var store = new InMemoryInputStateStore();

        await TestJob.RunAsync(store, 25);

        TorchTrainingState state = TestJob.NewState();
        await using var checkpoints = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 10 }, state);
        IReadOnlyList<CheckpointReference> model = await checkpoints.ModelCheckpoints.ListCheckpointsAsync();
        IReadOnlyList<CheckpointReference> input = await checkpoints.InputHook.Manager.ListCheckpointsAsync();
        Assert.Equal([25, 20, 10, 0], model.Select(c => c.Step)); // the periodic saves and the final one at the end
        Assert.Equal(model.Select(c => c.Step), input.Select(c => c.Step));
        Assert.Equal(("model", "checkpoint"), (checkpoints.ModelCheckpoints.Chain, checkpoints.ModelCheckpoints.StateFileKey));
        Assert.Equal("input", checkpoints.InputHook.Chain);
        Assert.Contains("checkpoint", store.Keys);
        Assert.Contains("checkpoint_input", store.Keys);
    }

    [Fact]
    public async Task ADamagedModelPart_MovesTheResumeStepBackToThePreviousStepWhereBothChainsVerify()
    {
        (_, _, Dictionary<long, uint> reference) = await TestJob.RunAsync(new InMemoryInputStateStore(), 50);
        var store = new InMemoryInputStateStore();
        await TestJob.RunAsync(store, 40);
        string latestModelPart = store.Keys.Single(k => k.StartsWith("model.ckpt-40.", StringComparison.Ordinal) && k.EndsWith(".part", StringComparison.Ordinal));
        Assert.True(store.Corrupt(latestModelPart, bytes =>
        {
            bytes[bytes.Length / 2] ^= 0x5A;
            return bytes;
        }));

        (long resumed, long reached, Dictionary<long, uint> losses) = await TestJob.RunAsync(store, 50);

        Assert.Equal(30, resumed);
        Assert.Equal(50, reached);
        Assert.All(losses, pair => Assert.Equal(reference[pair.Key], pair.Value));
    }

    [Fact]
    public async Task FailedInputSaves_NeverLetTheModelChainDropTheLastStepBothChainsShare()
    {
        (_, _, Dictionary<long, uint> reference) = await TestJob.RunAsync(new InMemoryInputStateStore(), 90);
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        store.Arm(Fault.Fail.When(call => call.Operation == StoreOperation.Write && call.Key.StartsWith("input.ckpt-", StringComparison.Ordinal)
            && !call.Key.StartsWith("input.ckpt-0.", StringComparison.Ordinal) && !call.Key.StartsWith("input.ckpt-10.", StringComparison.Ordinal)).Repeatedly());

        await TestJob.RunAsync(store, 80); // model saves at 0..80 all commit, input saves after 10 all fail; KeepMax 5
        store.Disarm();
        (long resumed, long reached, Dictionary<long, uint> losses) = await TestJob.RunAsync(store, 90);

        Assert.Equal(10, resumed);
        Assert.Equal(90, reached);
        Assert.All(losses, pair => Assert.Equal(reference[pair.Key], pair.Value));
    }

    [Fact]
    public async Task AMissingModelChain_WithInputCheckpoints_IsNotFound()
    {
        var store = new InMemoryInputStateStore();
        await TestJob.RunAsync(store, 20);
        foreach (string key in store.Keys.Where(k => k.StartsWith("model.ckpt-", StringComparison.Ordinal) || k == "checkpoint").ToList())
        {
            store.Remove(key);
        }

        await using var checkpoints = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 10 }, TestJob.NewState());

        CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => checkpoints.ResumeAsync());
        Assert.Contains("model chain \"model\" (steps: none)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResumingIntoAModuleOfAnotherShape_IsAMismatch()
    {
        var store = new InMemoryInputStateStore();
        await TestJob.RunAsync(store, 20);
        await using var checkpoints = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 10 }, TestJob.NewState(hidden: 24));

        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => checkpoints.ResumeAsync());
        Assert.Contains("module", ex.Mismatch, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResumeAsync_RestoresTheTrainingState_EvenWhenNoStepIsLeftToRun()
    {
        var store = new InMemoryInputStateStore();
        TorchTrainingState trained = TestJob.NewState();
        await using (var first = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 10 }, trained))
        {
            var session = new TrainingSession(await first.ResumeAsync());
            await using ICheckpointableIterator<TensorBatch> batches = TestJob.Batches();
            session.Iterators.Add("batches", batches);
            await new MonitoredTrainingSession(session, first.Hooks).RunAsync(
                async (_, ct) =>
                {
                    Assert.True(await batches.MoveNextAsync(ct));
                    TestJob.Step(trained, batches.Current);
                    return true;
                },
                15);
        }

        TorchTrainingState fresh = TestJob.NewState();
        await using var again = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 10 }, fresh);

        Assert.Equal(15, await again.ResumeAsync());
        Assert.Equal(TestJob.Parameters(trained), TestJob.Parameters(fresh));
        Assert.Equal(15, fresh.SchedulerSteps);
    }

    [Fact]
    public async Task AReplacementJob_ClaimsBothChains_AndTheOldJobStopsAtItsNextSaveWithoutCommittingIt()
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 10, SaveInBackground = false };
        TorchTrainingState old = TestJob.NewState();
        await using var oldJob = new TorchCheckpointing(store, options, old);
        var session = new TrainingSession(await oldJob.ResumeAsync());
        await using ICheckpointableIterator<TensorBatch> batches = TestJob.Batches();
        session.Iterators.Add("batches", batches);
        await using var replacement = new TorchCheckpointing(store, options, TestJob.NewState());
        long? replacementResumedAt = null;

        CheckpointOwnershipLostException lost = await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => new MonitoredTrainingSession(session, oldJob.Hooks).RunAsync(
            async (context, ct) =>
            {
                if (context.GlobalStep == 12)
                {
                    replacementResumedAt = await replacement.ResumeAsync(ct); // the replacement VM starts while the old one runs
                }

                Assert.True(await batches.MoveNextAsync(ct));
                TestJob.Step(old, batches.Current);
                return true;
            },
            30));

        Assert.Equal(10, replacementResumedAt);
        Assert.Equal("model", lost.Chain); // the model chain's hook runs first, so it is the first to find its chain taken
        Assert.Equal([10, 0], (await replacement.ModelCheckpoints.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal([10, 0], (await replacement.InputHook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.True(replacement.ModelCheckpoints.OwnerEpoch > oldJob.ModelCheckpoints.OwnerEpoch);
    }

    [Fact]
    public async Task WithFirstWriterWins_ASecondCopyClaimsNothing_AndTheRunningJobGoesOnCommitting()
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 10, SaveInBackground = false, Ownership = OwnershipPolicy.FirstWriterWins };
        TorchTrainingState first = TestJob.NewState();
        await using var firstJob = new TorchCheckpointing(store, options, first);
        var session = new TrainingSession(await firstJob.ResumeAsync());
        await using ICheckpointableIterator<TensorBatch> batches = TestJob.Batches();
        session.Iterators.Add("batches", batches);
        await using var second = new TorchCheckpointing(store, options, TestJob.NewState());

        long reached = await new MonitoredTrainingSession(session, firstJob.Hooks).RunAsync(
            async (context, ct) =>
            {
                if (context.GlobalStep == 12)
                {
                    Assert.Equal(10, await second.ResumeAsync(ct));
                }

                Assert.True(await batches.MoveNextAsync(ct));
                TestJob.Step(first, batches.Current);
                return true;
            },
            30);

        Assert.Equal(30, reached);
        Assert.Equal(30, (await firstJob.ModelCheckpoints.ListCheckpointsAsync())[0].Step);
        Assert.Equal(30, (await firstJob.InputHook.Manager.ListCheckpointsAsync())[0].Step);
    }

    [Fact]
    public async Task TrainingWithoutResumeAsync_IsRefusedAtTheFirstStep()
    {
        await using var checkpoints = new TorchCheckpointing(new InMemoryInputStateStore(), new CheckpointInputPipelineHookOptions { SaveSteps = 10 }, TestJob.NewState());
        var session = new TrainingSession();

        InvalidOperationException ex = await Assert.ThrowsAsync<InvalidOperationException>(() => new MonitoredTrainingSession(session, checkpoints.Hooks).RunAsync((_, _) => ValueTask.FromResult(true), 5));
        Assert.Contains("ResumeAsync", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidOptionsAndNullArguments_AreRefused()
    {
        TorchTrainingState state = TestJob.NewState();
        var store = new InMemoryInputStateStore();

        Assert.Throws<CheckpointOptionsException>(() => new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions(), state));
        Assert.Throws<CheckpointOptionsException>(() => new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5, KeepMax = 0 }, state));
        Assert.Throws<ArgumentNullException>(() => new TorchCheckpointing(null!, new CheckpointInputPipelineHookOptions { SaveSteps = 5 }, state));
        Assert.Throws<ArgumentNullException>(() => new TorchCheckpointing(store, null!, state));
        Assert.Throws<ArgumentNullException>(() => new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5 }, null!));
        await using var several = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5, NumWorkerReplicas = 2, TaskId = 1 }, state);
        Assert.Equal(("model_worker_1", "checkpoint_model_worker_1", "input_worker_1"), (several.ModelCheckpoints.Chain, several.ModelCheckpoints.StateFileKey, several.InputHook.Chain));
    }

    [Fact]
    public async Task FromDependencyInjection_TheFactoryUsesTheRegisteredStoreAndCadence()
    {
        var store = new InMemoryInputStateStore();
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["InputPipelineCheckpointing:SaveSteps"] = "4", ["InputPipelineCheckpointing:KeepMax"] = "2" })
            .Build();
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(configuration).AddTorchSharpCheckpointing().AddTorchSharpCheckpointing();
        services.AddSingleton<IInputStateStore>(store);
        await using ServiceProvider provider = services.BuildServiceProvider();
        TorchTrainingState state = TestJob.NewState();

        await using TorchCheckpointing checkpoints = provider.GetRequiredService<TorchCheckpointingFactory>().Create(state);
        var session = new TrainingSession(await checkpoints.ResumeAsync());
        await using ICheckpointableIterator<TensorBatch> batches = TestJob.Batches();
        session.Iterators.Add("batches", batches);
        await new MonitoredTrainingSession(session, checkpoints.Hooks).RunAsync(
            async (_, ct) =>
            {
                Assert.True(await batches.MoveNextAsync(ct));
                TestJob.Step(state, batches.Current);
                return true;
            },
            10);

        Assert.Single(services, d => d.ServiceType == typeof(TorchCheckpointingFactory));
        // KeepMax 2, and at most one more: the model chain may still hold step 4, the newest step both chains had
        // committed when its save at step 10 committed, if the input chain's background save at 8 had not yet landed.
        IReadOnlyList<CheckpointReference> model = await checkpoints.ModelCheckpoints.ListCheckpointsAsync();
        Assert.Equal([10, 8], model.Take(2).Select(c => c.Step));
        Assert.True(model.Count == 2 || (model.Count == 3 && model[2].Step == 4), string.Join(", ", model.Select(c => c.Step)));
        Assert.Equal([10, 8], (await checkpoints.InputHook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }
}
