using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>The reference hook's semantics, through the public lifecycle.</summary>
public sealed class HookSemanticsTests
{
    [Fact]
    public async Task SingleReplica_WritesChainInputCkpt_AndStateFileCheckpointInput_NeverCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2 });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 5);

        Assert.Equal("input", hook.Chain);
        Assert.Contains("checkpoint_input", store.Keys);
        Assert.DoesNotContain("checkpoint", store.Keys);
        Assert.All(store.Keys.Where(k => k != "checkpoint_input"), k => Assert.StartsWith("input.ckpt-", k, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(2, "worker", 1, "input_worker_1")]
    [InlineData(4, "worker", 3, "input_worker_3")]
    [InlineData(3, "chief", 0, "input_chief_0")]
    [InlineData(1, "worker", 7, "input")]
    public async Task SeveralReplicas_WriteTheirOwnChain(int replicas, string taskType, int taskId, string chain)
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, NumWorkerReplicas = replicas, TaskType = taskType, TaskId = taskId };
        await using var hook = new CheckpointInputPipelineHook(store, options);
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 2);

        Assert.Equal(chain, options.Chain);
        Assert.Equal(chain, hook.Chain);
        Assert.Equal("checkpoint_" + chain, hook.Manager.StateFileKey);
        Assert.Contains("checkpoint_" + chain, store.Keys);
        Assert.All(store.Keys.Where(k => k != "checkpoint_" + chain), k => Assert.StartsWith(chain + ".ckpt-", k, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoWorkers_OnOneStore_DoNotInterfere()
    {
        var store = new InMemoryInputStateStore();
        await using var worker0 = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1, NumWorkerReplicas = 2, TaskId = 0 });
        await using var worker1 = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1, NumWorkerReplicas = 2, TaskId = 1 });
        var it0 = new CountingIterator();
        var it1 = new CountingIterator();
        var s0 = new TrainingSession();
        s0.Iterators.Add("iterator", it0);
        var s1 = new TrainingSession();
        s1.Iterators.Add("iterator", it1);

        await Ckpt.RunAsync(s0, it0, [worker0], lastStep: 3);
        await Ckpt.RunAsync(s1, it1, [worker1], lastStep: 6);

        Assert.Equal(3, (await Ckpt.ReadStateFileAsync(store, "checkpoint_input_worker_0")).Latest!.Step);
        Assert.Equal(6, (await Ckpt.ReadStateFileAsync(store, "checkpoint_input_worker_1")).Latest!.Step);
        Assert.False(worker0.Manager.IsOwnershipLost);
        Assert.False(worker1.Manager.IsOwnershipLost);
    }

    [Fact]
    public async Task FirstBeforeRun_WithAnEmptyChain_SavesAnInitialCheckpointAtTheCurrentGlobalStep()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 100 });
        var session = new FakeSession { GlobalStep = 7 };
        var iterator = new CountingIterator();
        session.Iterators.Add("iterator", iterator);
        await hook.BeginAsync();
        await hook.AfterCreateSessionAsync(session);

        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        Assert.Null(hook.RestoredCheckpoint);
        Assert.Equal(7, hook.LastSavedStep);
        Assert.Equal(7, hook.LastCommittedStep);
        CheckpointReference only = Assert.Single(await hook.Manager.ListCheckpointsAsync());
        Assert.Equal(7, only.Step);
        Assert.Equal(0, iterator.RestoreCount);
    }

    [Fact]
    public async Task FirstBeforeRun_RestoresTheLatestCheckpoint_AndTheIteratorContinuesExactly()
    {
        var store = new InMemoryInputStateStore();
        var uninterrupted = new CountingIterator();
        List<long> reference = await uninterrupted.TakeAsync(30);

        var firstRunSeen = new List<long>();
        var first = new CountingIterator();
        await using (var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 4 }))
        {
            var session = new TrainingSession();
            session.Iterators.Add("iterator", first);
            await Ckpt.RunAsync(session, first, [hook], lastStep: 12, seen: firstRunSeen);
        }

        var resumedSeen = new List<long>();
        var resumed = new CountingIterator();
        await using var resumedHook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 4 });
        var resumedSession = new TrainingSession(12);
        resumedSession.Iterators.Add("iterator", resumed);
        await Ckpt.RunAsync(resumedSession, resumed, [resumedHook], lastStep: 30, seen: resumedSeen);

        Assert.Equal(12, resumedHook.RestoredCheckpoint!.Step);
        Assert.Equal(1, resumed.RestoreCount);
        Assert.Equal(reference, firstRunSeen.Concat(resumedSeen));
    }

    [Fact]
    public async Task OnlyTheFirstBeforeRun_RestoresOrSaves()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 100 });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        int calls = store.CallCount;

        for (int step = 1; step <= 5; step++)
        {
            session.GlobalStep = step;
            await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        }

        Assert.Equal(calls, store.CallCount);
    }

    [Theory]
    [InlineData(1, 5, new long[] { 5, 4, 3, 2, 1, 0 })]
    [InlineData(3, 10, new long[] { 10, 9, 6, 3, 0 })]
    [InlineData(5, 15, new long[] { 15, 10, 5, 0 })]
    [InlineData(4, 17, new long[] { 17, 16, 12, 8, 4, 0 })]
    public async Task SaveSteps_SavesEveryNStepsFromTheInitialSave_PlusAFinalSave(int saveSteps, int lastStep, long[] expected)
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = saveSteps, KeepMax = 100 });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: lastStep);

        Assert.Equal(expected, (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal(expected.Length, hook.Manager.CommitCount);
    }

    [Fact]
    public async Task SaveSteps_NeverSavesTwiceForOneStep()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2, SaveInBackground = false });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        session.GlobalStep = 2;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start.AddHours(1)));
        await hook.EndAsync(session);

        Assert.Equal(2, hook.Manager.CommitCount);
        Assert.Equal([2L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task SaveSecs_SavesWhenTheSecondsTimerTriggers_UsingTheInjectedClock()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSecs = 10, KeepMax = 100 }, timeProvider: time);
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        // Each step takes 3 s: the timer triggers at 12 s (step 4), 24 s (step 8); End saves at step 10.
        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 10, time: time, eachStep: () => time.Advance(TimeSpan.FromSeconds(3)));

        Assert.Equal([10L, 8L, 4L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Same(time, hook.TimeProvider);
    }

    [Fact]
    public async Task SaveSecs_DoesNotTriggerWithoutTimePassing_AndNeverTwiceForOneStep()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSecs = 30, SaveInBackground = false }, timeProvider: time);
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.BeforeRunAsync(new SessionRunContext(session, time.GetUtcNow()));

        for (int step = 1; step <= 20; step++)
        {
            session.GlobalStep = step;
            await hook.AfterRunAsync(new SessionRunContext(session, time.GetUtcNow()));
        }

        Assert.Equal(1, hook.Manager.CommitCount);
        time.Advance(TimeSpan.FromSeconds(29.9));
        await hook.AfterRunAsync(new SessionRunContext(session, time.GetUtcNow()));
        Assert.Equal(1, hook.Manager.CommitCount);
        time.Advance(TimeSpan.FromSeconds(0.1));
        await hook.AfterRunAsync(new SessionRunContext(session, time.GetUtcNow()));
        time.Advance(TimeSpan.FromMinutes(5));
        await hook.AfterRunAsync(new SessionRunContext(session, time.GetUtcNow()));

        Assert.Equal(2, hook.Manager.CommitCount);
        Assert.Equal(20, hook.LastSavedStep);
    }

    [Fact]
    public async Task End_SavesAFinalCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1000 });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 13);

        Assert.Equal([13L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal(13, hook.LastCommittedStep);
        var resumed = new CountingIterator();
        using CheckpointManager reader = Ckpt.Manager(store);
        await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", resumed)));
        Assert.Equal(13, resumed.Position);
    }

    [Fact]
    public async Task End_DoesNotDuplicateASaveAtTheSameStep()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5 });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 10);

        Assert.Equal(3, hook.Manager.CommitCount);
        Assert.Equal([10L, 5L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task End_BeforeTheFirstStep_SavesNothing()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5 });
        var session = new TrainingSession(4);
        session.Iterators.Add("iterator", new CountingIterator());

        await Ckpt.RunAsync(session, new CountingIterator(), [hook], lastStep: 4);

        Assert.Empty(store.Keys);
    }

    [Fact]
    public async Task AfterRestore_NoSaveUntilTheTimerTriggers_AndEndAtTheRestoredStepSavesNothing()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(10, Ckpt.Bytes(("iterator", BitConverter.GetBytes(10L))));
        }

        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5, SaveInBackground = false });
        var session = new FakeSession { GlobalStep = 10 };
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        for (int step = 11; step <= 14; step++)
        {
            session.GlobalStep = step;
            await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        }

        Assert.Equal(0, hook.Manager.CommitCount);
        session.GlobalStep = 15;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        Assert.Equal(1, hook.Manager.CommitCount);
        await hook.EndAsync(session);
        Assert.Equal(1, hook.Manager.CommitCount);
    }

    [Fact]
    public async Task OnlyRegisteredIterators_AreSaved()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1 });
        var registered = new CountingIterator();
        var shuffle = new BlobState(64, 1);
        var unregistered = new CountingIterator(name: "eval");
        var session = new TrainingSession();
        session.Iterators.Add("iterator", registered);
        session.Iterators.Add("shuffle", shuffle);

        await Ckpt.RunAsync(session, registered, [hook], lastStep: 3);

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        foreach (CheckpointReference reference in state.Checkpoints)
        {
            CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, reference.ManifestKey);
            Assert.Equal(["iterator", "shuffle"], manifest.Parts.Select(p => p.Name));
        }

        Assert.Equal(0, unregistered.CaptureCount);
        Assert.DoesNotContain(store.Keys, k => k.Contains("eval", StringComparison.Ordinal));
    }

    [Fact]
    public async Task IteratorsRegisteredAfterCreateSession_ButBeforeTheFirstStep_AreIncluded()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1 });
        var session = new FakeSession();
        await hook.AfterCreateSessionAsync(session);
        session.Iterators.Add("late", new CountingIterator());

        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal("late", Assert.Single((await Ckpt.ReadManifestAsync(store, state.Latest!.ManifestKey)).Parts).Name);
    }

    [Fact]
    public async Task RestoreIntoAnIteratorThatHasAlreadyYielded_SurfacesPipelineAlreadyStarted()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(5, Ckpt.Bytes(("iterator", BitConverter.GetBytes(5L))));
        }

        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1 });
        var iterator = new CountingIterator();
        await iterator.TakeAsync(1);
        var session = new FakeSession { GlobalStep = 5 };
        session.Iterators.Add("iterator", iterator);

        PipelineAlreadyStartedException ex = await Assert.ThrowsAsync<PipelineAlreadyStartedException>(async () => await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start)));

        Assert.Equal("iterator", ex.Name);
        Assert.Equal(1, iterator.Position);
    }

    [Fact]
    public async Task RestoreModeAtGlobalStep_RestoresTheCheckpointAtThatStep_NotTheLatest()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(5, Ckpt.Bytes(("iterator", BitConverter.GetBytes(5L))));
            await writer.SaveAsync(10, Ckpt.Bytes(("iterator", BitConverter.GetBytes(10L))));
        }

        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5, RestoreMode = InputRestoreMode.AtGlobalStep });
        var iterator = new CountingIterator();
        var session = new FakeSession { GlobalStep = 5 };
        session.Iterators.Add("iterator", iterator);

        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        Assert.Equal(5, hook.RestoredCheckpoint!.Step);
        Assert.Equal(5, iterator.Position);
    }

    [Fact]
    public async Task RestoreModeAtGlobalStep_WithoutACheckpointAtThatStep_ThrowsNotFound()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(10, Ckpt.Bytes(("iterator", BitConverter.GetBytes(10L))));
        }

        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5, RestoreMode = InputRestoreMode.AtGlobalStep });
        var session = new FakeSession { GlobalStep = 7 };
        session.Iterators.Add("iterator", new CountingIterator());

        CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(async () => await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start)));
        Assert.Contains("10", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RestoreModeLatest_RestoresTheNewestEvenIfAheadOfTheGlobalStep()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(5, Ckpt.Bytes(("iterator", BitConverter.GetBytes(5L))));
            await writer.SaveAsync(10, Ckpt.Bytes(("iterator", BitConverter.GetBytes(10L))));
        }

        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5 });
        var iterator = new CountingIterator();
        var session = new FakeSession { GlobalStep = 5 };
        session.Iterators.Add("iterator", iterator);

        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        Assert.Equal(10, hook.RestoredCheckpoint!.Step);
        Assert.Equal(10, iterator.Position);
    }

    [Fact]
    public async Task Hook_WithAManager_SavesThroughIt_AndDoesNotDisposeIt()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store, keepMax: 2, chain: "custom");
        await using (var hook = new CheckpointInputPipelineHook(new CheckpointInputPipelineHookOptions { SaveSteps = 1 }, null, manager))
        {
            var iterator = new CountingIterator();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            await Ckpt.RunAsync(session, iterator, [hook], lastStep: 4);
            Assert.Same(manager, hook.Manager);
            Assert.Equal("custom", hook.Chain);
        }

        Assert.Equal([4L, 3L], (await manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Contains("checkpoint_custom", store.Keys);
    }

    [Fact]
    public async Task BackgroundSaves_AreAllCommittedByEnd_InOrder()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1, KeepMax = 1000, SaveInBackground = true });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 60);

        IReadOnlyList<CheckpointReference> list = await hook.Manager.ListCheckpointsAsync();
        Assert.Equal(Enumerable.Range(0, 61).Reverse().Select(i => (long)i), list.Select(c => c.Step));
        Assert.Equal(60, hook.LastCommittedStep);

        // Each checkpoint holds the iterator position of its own step.
        foreach (CheckpointReference reference in list.Where(r => r.Step % 15 == 0))
        {
            var it = new CountingIterator();
            using CheckpointManager reader = Ckpt.Manager(store);
            await reader.RestoreAsync(reference.Step, Ckpt.Targets(("iterator", it)));
            Assert.Equal(reference.Step, it.Position);
        }
    }

    [Fact]
    public async Task DisposingTheHook_WithASaveInFlight_LeavesARestorableChain()
    {
        var inner = new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(inner);
        var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1, SaveInBackground = true });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        store.Arm(Fault.Hang);
        session.GlobalStep = 1;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        await store.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));

        await hook.DisposeAsync();

        var it = new CountingIterator();
        using CheckpointManager reader = Ckpt.Manager(inner);
        Assert.Equal(0, (await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", it))))!.Step);
    }

    [Fact]
    public async Task DisposeAsync_IsIdempotent()
    {
        var hook = new CheckpointInputPipelineHook(new InMemoryInputStateStore(), new CheckpointInputPipelineHookOptions { SaveSteps = 1 });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        await hook.DisposeAsync();
        Exception? second = await Record.ExceptionAsync(async () => await hook.DisposeAsync());

        Assert.Null(second);
    }
}
