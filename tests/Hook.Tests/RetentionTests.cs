using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Tests;

public sealed class RetentionTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-retention");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task FiftySaves_KeepMax3_LeaveExactlyThreeManifestsTheirPartsAndTheStateFile_InMemory()
    {
        var store = new InMemoryInputStateStore();
        await AssertFiftySavesLeaveExactlyThreeAsync(store);
        Assert.Equal(await Ckpt.ListKeysAsync(store), store.Keys.ToList());
    }

    [Fact]
    public async Task FiftySaves_KeepMax3_LeaveExactlyThreeManifestsTheirPartsAndTheStateFile_Local()
    {
        var store = new LocalInputStateStore(_dir.Combine("store"));
        await AssertFiftySavesLeaveExactlyThreeAsync(store);
    }

    [Fact]
    public async Task HookWithKeepMax3_OverFiftySteps_RetainsTheLastThree()
    {
        var store = new InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1, KeepMax = 3 });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 50);

        Assert.Equal([50L, 49L, 48L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal(7, store.Count);
    }

    [Fact]
    public async Task DefaultRetention_KeepsFive()
    {
        var store = new InMemoryInputStateStore();
        Assert.Equal(5, new CheckpointInputPipelineHookOptions().KeepMax);
        Assert.Equal(5, new CheckpointManagerOptions().KeepMax);
        Assert.Equal(5, new RunConfig().KeepCheckpointMax);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2 });
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 20);

        Assert.Equal([20L, 18L, 16L, 14L, 12L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal(5, store.Keys.Count(k => k.EndsWith(".manifest", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task OrphanCollection_DeletesOnlyUnreferencedObjectsOlderThanTheGracePeriod()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var inner = new InMemoryInputStateStore(time);
        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager manager = Ckpt.Manager(store, time: time, grace: TimeSpan.FromHours(1));
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [1])));

        // An old orphan: a save that died before its commit.
        store.Arm(Fault.Crash.When(c => c.Key == Ckpt.StateFile));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(2, Ckpt.Bytes(("a", [2]), ("b", [2]))));
        store.Disarm();
        string[] oldOrphans = [.. inner.Keys.Where(k => k.StartsWith("input.ckpt-2.", StringComparison.Ordinal))];
        time.Advance(TimeSpan.FromMinutes(40));

        // A young orphan: a part of a save that died while uploading.
        store.Arm(Fault.Fail.When(c => c.Key.EndsWith(".b.part", StringComparison.Ordinal)));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(3, Ckpt.Bytes(("a", [3]), ("b", [3]))));
        string[] youngOrphans = [.. inner.Keys.Where(k => k.StartsWith("input.ckpt-3.", StringComparison.Ordinal))];
        time.Advance(TimeSpan.FromMinutes(30));
        string[] committed = [.. inner.Keys.Where(k => k.StartsWith("input.ckpt-1.", StringComparison.Ordinal))];

        IReadOnlyList<string> collected = await manager.CollectOrphansAsync();

        Assert.Equal(3, oldOrphans.Length);
        Assert.Single(youngOrphans);
        Assert.Equal(oldOrphans.Order(StringComparer.Ordinal), collected.Order(StringComparer.Ordinal));
        Assert.EndsWith(".manifest", collected[0], StringComparison.Ordinal);
        Assert.All(oldOrphans, k => Assert.Null(inner.GetBytes(k)));
        Assert.All(youngOrphans, k => Assert.NotNull(inner.GetBytes(k)));
        Assert.All(committed, k => Assert.NotNull(inner.GetBytes(k)));
        Assert.NotNull(inner.GetBytes(Ckpt.StateFile));
        Assert.Equal(1, (await Ckpt.RestoreBlobsAsync(inner))!.Value.Step);

        time.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(youngOrphans, await manager.CollectOrphansAsync());
        Assert.Equal(4, inner.Count);
    }

    [Fact]
    public async Task OrphanCollection_DryRun_DeletesNothing()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var inner = new InMemoryInputStateStore(time);
        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager manager = Ckpt.Manager(store, time: time);
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [1])));
        store.Arm(Fault.Fail.When(c => c.Key == Ckpt.StateFile));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(2, Ckpt.Bytes(("a", [2]), ("b", [2]))));
        time.Advance(TimeSpan.FromHours(3));
        string[] before = [.. inner.Keys];
        int deletesBefore = store.Calls.Count(c => c.Operation == StoreOperation.Delete);

        IReadOnlyList<string> wouldDelete = await manager.CollectOrphansAsync(dryRun: true);

        Assert.Equal(3, wouldDelete.Count);
        Assert.All(wouldDelete, k => Assert.StartsWith("input.ckpt-2.", k, StringComparison.Ordinal));
        Assert.Equal(before, inner.Keys);
        Assert.Equal(deletesBefore, store.Calls.Count(c => c.Operation == StoreOperation.Delete));
    }

    [Fact]
    public async Task OrphanCollection_NeverTouchesOtherChainsOrTheModelCheckpoint()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        store.SetBytes("model.ckpt-5.abc.manifest", [1]);
        store.SetBytes("checkpoint", [1]);
        store.SetBytes("input_worker_1.ckpt-5.abc.iterator.part", [1]);
        store.SetBytes("unrelated/object", [1]);
        using CheckpointManager manager = Ckpt.Manager(store, time: time, grace: TimeSpan.Zero);
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        time.Advance(TimeSpan.FromDays(1));

        IReadOnlyList<string> collected = await manager.CollectOrphansAsync();

        Assert.Empty(collected);
        Assert.Equal(7, store.Count);
    }

    [Theory]
    [InlineData("state-file-garbage")]
    [InlineData("state-file-missing")]
    [InlineData("newer-format-version")]
    public async Task OrphanCollection_WithoutAReadableStateFile_NeverDeletesRetainedCheckpoints(string situation)
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        using (CheckpointManager writer = Ckpt.Manager(store, time: time))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1])));
            await writer.SaveAsync(2, Ckpt.Bytes(("a", [2])));
        }

        switch (situation)
        {
            case "state-file-garbage":
                store.Corrupt(Ckpt.StateFile, b => b[..7]);
                break;
            case "state-file-missing":
                store.Remove(Ckpt.StateFile);
                break;
            default:
                // What a newer SDK wrote: this SDK cannot read it, so it must not treat its objects as orphans.
                foreach (string key in store.Keys.Where(k => k == Ckpt.StateFile || k.EndsWith(".manifest", StringComparison.Ordinal)))
                {
                    store.Corrupt(key, b => System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(b).Replace("\"formatVersion\": 1", "\"formatVersion\": 2", StringComparison.Ordinal)));
                }

                break;
        }

        string[] before = [.. store.Keys];
        time.Advance(TimeSpan.FromDays(2));
        using CheckpointManager collector = Ckpt.Manager(store, time: time);

        if (situation == "newer-format-version")
        {
            // A chain a newer SDK wrote to is refused outright, with a typed error, rather than half-collected.
            await Assert.ThrowsAsync<CheckpointFormatVersionException>(() => collector.CollectOrphansAsync());
        }
        else
        {
            IReadOnlyList<string> collected = await collector.CollectOrphansAsync();
            Assert.Empty(collected);
        }

        Assert.Equal(before, store.Keys);
    }

    [Fact]
    public async Task OrphanCollection_AfterARebuiltView_KeepsTheObjectsOfANewerFormatManifest()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        CheckpointReference newer;
        using (CheckpointManager writer = Ckpt.Manager(store, time: time))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1])));
            newer = await writer.SaveAsync(2, Ckpt.Bytes(("a", [2])));
        }

        store.Remove(Ckpt.StateFile);
        store.Corrupt(newer.ManifestKey, b => Ckpt.Text(System.Text.Encoding.UTF8.GetString(b).Replace("\"formatVersion\": 1", "\"formatVersion\": 3", StringComparison.Ordinal)));
        string[] newerKeys = [.. store.Keys.Where(k => k.StartsWith(newer.ManifestKey[..^"manifest".Length], StringComparison.Ordinal))];
        Assert.Equal(2, newerKeys.Length);
        time.Advance(TimeSpan.FromDays(2));

        using CheckpointManager collector = Ckpt.Manager(store, time: time);
        IReadOnlyList<CheckpointReference> view = await collector.ListCheckpointsAsync();
        IReadOnlyList<string> collected = await collector.CollectOrphansAsync();

        Assert.Equal([1L], view.Select(c => c.Step));
        Assert.Empty(collected);
        Assert.All(newerKeys, k => Assert.NotNull(store.GetBytes(k)));
    }

    [Fact]
    public async Task Save_IntoAChainWhoseStateFileIsOfANewerFormat_IsRefusedAndChangesNothing()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        }

        store.Corrupt(Ckpt.StateFile, b => Ckpt.Text(System.Text.Encoding.UTF8.GetString(b).Replace("\"formatVersion\": 1", "\"formatVersion\": 9", StringComparison.Ordinal)));
        byte[] stateBefore = store.GetBytes(Ckpt.StateFile)!;
        string[] keysBefore = [.. store.Keys];

        using CheckpointManager older = Ckpt.Manager(store);
        var error = await Assert.ThrowsAsync<CheckpointFormatVersionException>(() => older.SaveAsync(2, Ckpt.Bytes(("a", [2]))));

        Assert.Equal(9, error.FoundVersion);
        Assert.Equal(stateBefore, store.GetBytes(Ckpt.StateFile));
        Assert.Equal(keysBefore, store.Keys);
    }

    [Fact]
    public async Task Prune_KeepsTheNewest_DryRunChangesNothing_AndAnotherWritersCommitIsAConflict()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            for (int step = 1; step <= 4; step++)
            {
                await writer.SaveAsync(step, Ckpt.Bytes(("a", [(byte)step])));
            }
        }

        string[] before = [.. store.Keys];
        using CheckpointManager pruner = Ckpt.Manager(store);
        IReadOnlyList<CheckpointReference> wouldDrop = await pruner.PruneAsync(2, dryRun: true);
        Assert.Equal([2L, 1L], wouldDrop.Select(c => c.Step));
        Assert.Equal(before, store.Keys);

        IReadOnlyList<CheckpointReference> dropped = await pruner.PruneAsync(2);

        Assert.Equal([2L, 1L], dropped.Select(c => c.Step));
        Assert.Equal([4L, 3L], (await Ckpt.ReadStateFileAsync(store)).Checkpoints.Select(c => c.Step));
        Assert.DoesNotContain(store.Keys, k => k.StartsWith("input.ckpt-1.", StringComparison.Ordinal) || k.StartsWith("input.ckpt-2.", StringComparison.Ordinal));
        Assert.Equal(5, store.Keys.Count); // two manifests, two parts, the state file

        using CheckpointManager other = Ckpt.Manager(store);
        await other.SaveAsync(5, Ckpt.Bytes(("a", [5])));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => pruner.PruneAsync(1));
        Assert.Equal([5L, 4L, 3L], (await Ckpt.ReadStateFileAsync(store)).Checkpoints.Select(c => c.Step));
    }

    [Fact]
    public async Task RetentionDeleteFailure_IsCollectedLaterAsAnOrphan()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var inner = new InMemoryInputStateStore(time);
        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager manager = Ckpt.Manager(store, keepMax: 1, time: time, collectionInterval: 1);
        CheckpointReference first = await manager.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Delete));

        await manager.SaveAsync(2, Ckpt.Bytes(("a", [2])));
        Assert.NotNull(inner.GetBytes(first.ManifestKey));

        time.Advance(TimeSpan.FromHours(2));
        await manager.SaveAsync(3, Ckpt.Bytes(("a", [3])));

        Assert.DoesNotContain(inner.Keys, k => k.StartsWith("input.ckpt-1.", StringComparison.Ordinal) || k.StartsWith("input.ckpt-2.", StringComparison.Ordinal));
        Assert.Equal(3, inner.Count);
    }

    private static async Task AssertFiftySavesLeaveExactlyThreeAsync(IInputStateStore store)
    {
        using CheckpointManager manager = Ckpt.Manager(store, keepMax: 3, collectionInterval: 7, grace: TimeSpan.Zero);
        for (int step = 1; step <= 50; step++)
        {
            await manager.SaveAsync(step, Ckpt.Bytes(("iterator", BitConverter.GetBytes((long)step)), ("shuffle", BlobState.Generate(step * 3, step))));
        }

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal([50L, 49L, 48L], state.Checkpoints.Select(c => c.Step));
        var expected = new List<string> { Ckpt.StateFile };
        foreach (CheckpointReference reference in state.Checkpoints)
        {
            expected.Add(reference.ManifestKey);
            expected.AddRange((await Ckpt.ReadManifestAsync(store, reference.ManifestKey)).Parts.Select(p => p.Key));
        }

        expected.Sort(StringComparer.Ordinal);
        Assert.Equal(expected, await Ckpt.ListKeysAsync(store));
        Assert.Equal(9, (await Ckpt.ListKeysAsync(store, "input.ckpt-")).Count);
    }
}
