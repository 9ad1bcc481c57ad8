using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// Several workers, one chain each (<c>input_worker_0</c> … <c>input_worker_3</c>) in one store: the consistent cut is
/// the latest step all of them committed (and, verified, all sound), and every worker restores exactly that step.
/// </summary>
public sealed class ConsistentCutTests
{
    private const int Workers = 4;

    [Fact]
    public async Task FourWorkers_OneLagging_TheCutIsItsLatestCommonStep_AndEveryWorkerRestoresExactlyIt()
    {
        var store = new InMemoryInputStateStore();
        for (int id = 0; id < Workers; id++)
        {
            // Workers 0-2 reach step 40 (checkpoints 0, 10, 20, 30, 40); worker 3 lags at 25 (0, 10, 20, 25).
            await TrainAsync(store, id, lastStep: id == 3 ? 25 : 40);
        }

        ConsistentCut? cut = await CheckpointCuts.FindLatestCommonStepAsync(store, "worker", Workers);

        Assert.NotNull(cut);
        Assert.Equal(20, cut.Step);
        Assert.True(cut.Verified);
        Assert.Empty(cut.SkippedSteps);
        Assert.Equal(Enumerable.Range(0, Workers).Select(id => $"input_worker_{id}"), cut.Checkpoints.Keys.Order(StringComparer.Ordinal));
        Assert.All(cut.Checkpoints.Values, c => Assert.Equal(20, c.Step));

        for (int id = 0; id < Workers; id++)
        {
            await AssertResumesExactlyAtAsync(store, id, cut.Step);
        }
    }

    [Fact]
    public async Task FourWorkers_OneWithADamagedLatest_TheVerifiedCutMovesBack_AndEveryWorkerRestoresExactlyIt()
    {
        var store = new InMemoryInputStateStore();
        for (int id = 0; id < Workers; id++)
        {
            await TrainAsync(store, id, lastStep: 40);
        }

        await DamageAsync(store, "input_worker_2", step: 40);

        ConsistentCut? cut = await CheckpointCuts.FindLatestCommonStepAsync(store, "worker", Workers);

        Assert.NotNull(cut);
        Assert.Equal(30, cut.Step);
        Assert.Equal([40L], cut.SkippedSteps);
        for (int id = 0; id < Workers; id++)
        {
            await AssertResumesExactlyAtAsync(store, id, cut.Step);
        }
    }

    [Fact]
    public async Task WithoutVerification_TheCutIsTheLatestCommonStep_AndTheWorkerWithTheDamagedCheckpointFailsClearly()
    {
        var store = new InMemoryInputStateStore();
        for (int id = 0; id < Workers; id++)
        {
            await TrainAsync(store, id, lastStep: 40);
        }

        await DamageAsync(store, "input_worker_2", step: 40);

        ConsistentCut? cut = await CheckpointCuts.FindLatestCommonStepAsync(store, "worker", Workers, verify: false);

        Assert.Equal(40, cut!.Step);
        Assert.False(cut.Verified);
        await AssertResumesExactlyAtAsync(store, 0, 40);

        // No silent fallback to step 30 on worker 2: its data would run behind the other three.
        await using CheckpointInputPipelineHook hook = AtStepHook(store, 2, 40);
        var iterator = new CountingIterator();
        var session = new TrainingSession(40);
        session.Iterators.Add("iterator", iterator);
        await Assert.ThrowsAsync<CheckpointCorruptedException>(() => Ckpt.RunAsync(session, iterator, [hook], lastStep: 45));
        Assert.Equal(0, iterator.RestoreCount);
    }

    [Fact]
    public async Task NoChainHasACheckpoint_TheCutIsNull()
    {
        var logs = new ListLoggerProvider();
        using var loggers = logs.CreateFactory();

        Assert.Null(await CheckpointCuts.FindLatestCommonStepAsync(new InMemoryInputStateStore(), "worker", Workers, loggerFactory: loggers));
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1162);
    }

    [Fact]
    public async Task AWorkerWithoutCheckpoints_FailsClearly_NamingEveryChainsSteps()
    {
        var store = new InMemoryInputStateStore();
        for (int id = 0; id < Workers - 1; id++)
        {
            await TrainAsync(store, id, lastStep: 20);
        }

        CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, "worker", Workers));

        Assert.Contains("input_worker_3: none", ex.Message, StringComparison.Ordinal);
        Assert.Contains("input_worker_0: 20, 10, 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RetentionLeftNoCommonStep_FailsClearly()
    {
        var store = new InMemoryInputStateStore();
        for (int id = 0; id < Workers; id++)
        {
            await TrainAsync(store, id, lastStep: id == 3 ? 25 : 40, keepMax: 2);
        }

        CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, "worker", Workers));

        Assert.Contains("input_worker_0: 40, 30", ex.Message, StringComparison.Ordinal);
        Assert.Contains("input_worker_3: 25, 20", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryCommonStepDamaged_FailsClearly_ListingThem()
    {
        var store = new InMemoryInputStateStore();
        for (int id = 0; id < 2; id++)
        {
            await TrainAsync(store, id, lastStep: 10, numWorkers: 2);
        }

        await DamageAsync(store, "input_worker_0", step: 10);
        await DamageAsync(store, "input_worker_1", step: 0);
        var logs = new ListLoggerProvider();
        using var loggers = logs.CreateFactory();

        CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, "worker", 2, loggerFactory: loggers));

        Assert.Contains("damaged at common steps 10, 0", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, logs.Entries.Count(e => e.EventId.Id == 1161));
    }

    [Fact]
    public async Task ACutFound_IsLogged()
    {
        var store = new InMemoryInputStateStore();
        await TrainAsync(store, 0, lastStep: 20, numWorkers: 2);
        await TrainAsync(store, 1, lastStep: 15, numWorkers: 2);
        var logs = new ListLoggerProvider();
        using var loggers = logs.CreateFactory();

        ConsistentCut? cut = await CheckpointCuts.FindLatestCommonStepAsync(store, ["input_worker_0", "input_worker_1"], loggerFactory: loggers);

        Assert.Equal(10, cut!.Step);
        ListLoggerProvider.LogEntry found = Assert.Single(logs.Entries, e => e.EventId.Id == 1160);
        Assert.Equal("Consistent cut of 2 chains at step 10 (latest steps: input_worker_0: 20; input_worker_1: 15).", found.Message);
    }

    [Fact]
    public async Task ACutAcrossTheModelChainAndTheInputChain_UsesEachManagersStateFile()
    {
        var store = new InMemoryInputStateStore();
        using var model = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "model", StateFileKey = "checkpoint" });
        using var input = Ckpt.Manager(store);
        foreach (long step in new long[] { 0, 10, 20 })
        {
            await model.SaveAsync(step, Ckpt.Bytes(("model", [1])));
            await input.SaveAsync(step, Ckpt.Bytes(("iterator", BitConverter.GetBytes(step))));
        }

        await input.SaveAsync(25, Ckpt.Bytes(("iterator", BitConverter.GetBytes(25L))));

        ConsistentCut? cut = await CheckpointCuts.FindLatestCommonStepAsync([model, input]);

        Assert.Equal(20, cut!.Step);
        Assert.Equal(["input", "model"], cut.Checkpoints.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void WorkerChain_IsTheChainTheHookWrites()
    {
        for (int id = 0; id < Workers; id++)
        {
            var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, NumWorkerReplicas = Workers, TaskType = "trainer", TaskId = id };
            Assert.Equal(options.Chain, CheckpointCuts.WorkerChain("trainer", id));
        }
    }

    [Fact]
    public async Task OneWorker_UsesTheChainInput()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(3, Ckpt.Bytes(("a", [1])));
        }

        ConsistentCut? cut = await CheckpointCuts.FindLatestCommonStepAsync(store, "worker", 1);

        Assert.Equal(3, cut!.Step);
        Assert.Equal("input", Assert.Single(cut.Checkpoints).Key);
    }

    [Fact]
    public async Task BadArguments_AreRejected()
    {
        var store = new InMemoryInputStateStore();
        await Assert.ThrowsAsync<ArgumentException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, Array.Empty<string>()));
        await Assert.ThrowsAsync<ArgumentException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, ["input_worker_0", "input_worker_0"]));
        await Assert.ThrowsAsync<ArgumentException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, ["bad/chain"]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => CheckpointCuts.FindLatestCommonStepAsync(store, "worker", 0));
        await Assert.ThrowsAsync<ArgumentNullException>(() => CheckpointCuts.FindLatestCommonStepAsync(null!, ["input"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => CheckpointCuts.WorkerChain("worker", -1));
    }

    /// <summary>Trains worker <paramref name="id"/> from step 0 to <paramref name="lastStep"/>, saving every 10 steps and at the end.</summary>
    private static async Task TrainAsync(IInputStateStore store, int id, long lastStep, int keepMax = 5, int numWorkers = Workers)
    {
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions
        {
            SaveSteps = 10,
            SaveInBackground = false,
            KeepMax = keepMax,
            NumWorkerReplicas = numWorkers,
            TaskId = id,
        });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        await Ckpt.RunAsync(session, iterator, [hook], lastStep);
    }

    private static CheckpointInputPipelineHook AtStepHook(IInputStateStore store, int id, long step) => new(store, new CheckpointInputPipelineHookOptions
    {
        SaveSteps = 10,
        SaveInBackground = false,
        NumWorkerReplicas = Workers,
        TaskId = id,
        RestoreMode = InputRestoreMode.AtStep,
        RestoreStep = step,
    });

    /// <summary>Restarts worker <paramref name="id"/> at <paramref name="step"/> and checks its data resumes exactly there.</summary>
    private static async Task AssertResumesExactlyAtAsync(IInputStateStore store, int id, long step)
    {
        await using CheckpointInputPipelineHook hook = AtStepHook(store, id, step);
        var iterator = new CountingIterator();
        var session = new TrainingSession(step);
        session.Iterators.Add("iterator", iterator);
        var seen = new List<long>();

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: step + 3, seen: seen);

        Assert.Equal(step, hook.RestoredCheckpoint!.Step);
        Assert.Equal(1, iterator.RestoreCount);
        Assert.Equal(Enumerable.Range((int)step, 3).Select(p => CountingIterator.ValueAt(p)), seen);
    }

    private static async Task DamageAsync(InMemoryInputStateStore store, string chain, long step)
    {
        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store, "checkpoint_" + chain);
        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, state.Checkpoints.Single(c => c.Step == step).ManifestKey);
        Assert.True(store.Corrupt(manifest.Parts[0].Key, bytes =>
        {
            bytes[0] ^= 0xFF;
            return bytes;
        }));
    }
}
