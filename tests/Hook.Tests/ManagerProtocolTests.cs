using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

public sealed class ManagerProtocolTests
{
    [Fact]
    public async Task SaveThenRestore_WithAFreshManager_RoundTripsEveryPart()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager writer = Ckpt.Manager(store);
        byte[] a = BlobState.Generate(1000, 1);
        byte[] b = BlobState.Generate(0, 2);

        CheckpointReference saved = await writer.SaveAsync(42, Ckpt.Bytes(("a", a), ("b", b)));
        (long step, byte[] ra, byte[] rb) = (await Ckpt.RestoreBlobsAsync(store))!.Value;

        Assert.Equal(42, saved.Step);
        Assert.Equal(42, step);
        Assert.Equal(a, ra);
        Assert.Equal(b, rb);
        Assert.Equal(1, writer.CommitCount);
    }

    [Fact]
    public async Task Keys_FollowTheReferenceNaming_InputCkptAndCheckpointInput()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);

        CheckpointReference saved = await manager.SaveAsync(7, Ckpt.Bytes(("iterator", [1, 2, 3])));

        Assert.Equal("input", manager.Chain);
        Assert.Equal("input.ckpt-", manager.ChainPrefix);
        Assert.Equal("checkpoint_input", manager.StateFileKey);
        Assert.StartsWith("input.ckpt-7.", saved.ManifestKey, StringComparison.Ordinal);
        Assert.EndsWith(".manifest", saved.ManifestKey, StringComparison.Ordinal);
        Assert.DoesNotContain("checkpoint", store.Keys);
        Assert.Contains("checkpoint_input", store.Keys);
        Assert.All(store.Keys.Where(k => k != "checkpoint_input"), k => Assert.StartsWith("input.ckpt-", k, StringComparison.Ordinal));
        string part = Assert.Single(store.Keys, k => k.EndsWith(".part", StringComparison.Ordinal));
        Assert.StartsWith(saved.ManifestKey[..^".manifest".Length] + ".", part, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Manifest_RecordsChainStepWriterAndEveryPartWithLengthAndChecksum()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        using CheckpointManager manager = Ckpt.Manager(store, time: time);

        CheckpointReference saved = await manager.SaveAsync(3, Ckpt.Bytes(("first", new byte[10]), ("second", new byte[25])));
        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, saved.ManifestKey);

        Assert.Equal(CheckpointManifest.CurrentFormatVersion, manifest.FormatVersion);
        Assert.Equal("input", manifest.Chain);
        Assert.Equal(3, manifest.Step);
        Assert.Equal(Ckpt.Start, manifest.CreatedAt);
        Assert.Equal(manager.WriterId, manifest.WriterId);
        Assert.Equal(["first", "second"], manifest.Parts.Select(p => p.Name));
        Assert.Equal([10L, 25L], manifest.Parts.Select(p => p.Length));
        Assert.All(manifest.Parts, p => Assert.Matches("^xxh3:[0-9a-f]{16}$", p.Checksum));
        Assert.All(manifest.Parts, p => Assert.Equal(p.Length, store.GetBytes(p.Key)!.Length));
        Assert.Contains(manifest.SaveId, saved.ManifestKey, StringComparison.Ordinal);
        Assert.Equal(35, manifest.TotalLength);
    }

    [Fact]
    public async Task StateFile_ListsTheLatestFirstAndEveryRetainedCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store, keepMax: 3);
        for (long step = 10; step <= 40; step += 10)
        {
            await manager.SaveAsync(step, Ckpt.Bytes(("iterator", [(byte)step])));
        }

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);

        Assert.Equal("input", state.Chain);
        Assert.Equal(manager.WriterId, state.WriterId);
        Assert.Equal([40L, 30L, 20L], state.Checkpoints.Select(c => c.Step));
        Assert.Equal(40, state.Latest!.Step);
        Assert.Equal([40L, 30L, 20L], (await manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task Commit_WritesPartsThenManifestCreateOnly_ThenSwapsTheStateFile()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store);
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [2])));
        int before = store.CallCount;

        await manager.SaveAsync(2, Ckpt.Bytes(("a", [3]), ("b", [4])));
        StoreCall[] writes = [.. store.Calls.Skip(before).Where(c => c.Operation == StoreOperation.Write)];

        Assert.Equal(4, writes.Length);
        Assert.EndsWith(".a.part", writes[0].Key, StringComparison.Ordinal);
        Assert.EndsWith(".b.part", writes[1].Key, StringComparison.Ordinal);
        Assert.EndsWith(".manifest", writes[2].Key, StringComparison.Ordinal);
        Assert.Equal("checkpoint_input", writes[3].Key);
        Assert.All(writes[..3], w => Assert.Equal(WriteConditionKind.IfAbsent, w.Condition!.Value.Kind));
        Assert.Equal(WriteConditionKind.IfVersionMatches, writes[3].Condition!.Value.Kind);
    }

    [Fact]
    public async Task FirstCommit_CreatesTheStateFileOnlyIfAbsent()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store);

        await manager.SaveAsync(0, Ckpt.Bytes(("a", [1])));

        StoreCall commit = Assert.Single(store.Calls, c => c.Operation == StoreOperation.Write && c.Key == "checkpoint_input");
        Assert.Equal(WriteConditionKind.IfAbsent, commit.Condition!.Value.Kind);
    }

    [Fact]
    public async Task Retention_DeletesADroppedManifestBeforeItsParts()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store, keepMax: 1);
        CheckpointReference first = await manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [2])));
        int before = store.CallCount;

        await manager.SaveAsync(2, Ckpt.Bytes(("a", [3]), ("b", [4])));
        StoreCall[] deletes = [.. store.Calls.Skip(before).Where(c => c.Operation == StoreOperation.Delete)];

        Assert.Equal(3, deletes.Length);
        Assert.Equal(first.ManifestKey, deletes[0].Key);
        Assert.All(deletes[1..], d => Assert.EndsWith(".part", d.Key, StringComparison.Ordinal));
        Assert.DoesNotContain(((InMemoryInputStateStore)store.Inner).Keys, k => k.StartsWith("input.ckpt-1.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EmptyChain_RestoreLatestReturnsNull_AndListIsEmpty()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        Assert.Null(await manager.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator))));
        Assert.Empty(await manager.ListCheckpointsAsync());
        Assert.Equal(0, iterator.RestoreCount);
    }

    [Fact]
    public async Task SavingTheSameStepTwice_ReplacesTheEarlierCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        await manager.SaveAsync(5, Ckpt.Bytes(("a", [1]), ("b", [1])));
        CheckpointReference second = await manager.SaveAsync(5, Ckpt.Bytes(("a", [2]), ("b", [2])));

        IReadOnlyList<CheckpointReference> list = await manager.ListCheckpointsAsync();
        (long step, byte[] a, _) = (await Ckpt.RestoreBlobsAsync(store))!.Value;

        Assert.Equal(second, Assert.Single(list));
        Assert.Equal(5, step);
        Assert.Equal([2], a);
        Assert.Equal(4, store.Keys.Count);
    }

    [Fact]
    public async Task RestoreAtStep_PicksExactlyThatCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        for (int step = 1; step <= 4; step++)
        {
            await manager.SaveAsync(step * 10, Ckpt.Bytes(("a", [(byte)step]), ("b", [])));
        }

        using CheckpointManager reader = Ckpt.Manager(store);
        var a = new BlobState([]);
        var b = new BlobState([]);
        CheckpointReference restored = await reader.RestoreAsync(20, Ckpt.Targets(("a", a), ("b", b)));

        Assert.Equal(20, restored.Step);
        Assert.Equal([2], a.Data);
    }

    [Fact]
    public async Task CountingIterator_ContinuesExactlyWhereItLeftOff()
    {
        var store = new InMemoryInputStateStore();
        var original = new CountingIterator();
        List<long> head = await original.TakeAsync(17);
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(17, Ckpt.Capture(("iterator", original)));
        }

        List<long> expected = await original.TakeAsync(10);
        var resumed = new CountingIterator();
        using CheckpointManager reader = Ckpt.Manager(store);
        await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", resumed)));

        Assert.Equal(17, head.Count);
        Assert.Equal(expected, await resumed.TakeAsync(10));
    }

    [Fact]
    public async Task InvalidArguments_AreRejectedBeforeAnyStoreCall()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => manager.SaveAsync(-1, Ckpt.Bytes(("a", [1]))));
        await Assert.ThrowsAsync<ArgumentException>(() => manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("A", [2]))));
        await Assert.ThrowsAsync<ArgumentException>(() => manager.RestoreLatestAsync(Ckpt.Targets(("x", new BlobState([])), ("x", new BlobState([])))));
        Assert.Equal(0, store.CallCount);
    }

    [Fact]
    public async Task FailingSnapshot_AbandonsTheSave_PreviousStaysLatest_AndTheNextSaveWorks()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [1])));

        CheckpointSaveException ex = await Assert.ThrowsAsync<CheckpointSaveException>(() => manager.SaveAsync(2, Ckpt.Capture(("a", new FailingSnapshotState()), ("b", new BlobState([2])))));
        Assert.IsType<InvalidOperationException>(ex.InnerException);
        Assert.Equal(1, (await Ckpt.RestoreBlobsAsync(store))!.Value.Step);

        await manager.SaveAsync(3, Ckpt.Bytes(("a", [3]), ("b", [3])));
        Assert.Equal(3, (await Ckpt.RestoreBlobsAsync(store))!.Value.Step);
    }

    [Fact]
    public async Task Snapshots_AreDisposedAfterTheSave_EvenWhenItFails()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store);
        var ok = new DisposeTrackingSnapshot();
        var failed = new DisposeTrackingSnapshot();

        await manager.SaveAsync(1, [new("a", ok)]);
        store.Arm(Fault.Fail);
        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(2, [new("a", failed)]));

        Assert.True(ok.Disposed);
        Assert.True(failed.Disposed);
    }

    [Fact]
    public async Task CancelledSave_LeavesThePreviousCheckpointTheLatest()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [1])));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => manager.SaveAsync(2, Ckpt.Bytes(("a", [2]), ("b", [2])), cts.Token));

        Assert.Equal(1, (await Ckpt.RestoreBlobsAsync(store))!.Value.Step);
        await manager.SaveAsync(3, Ckpt.Bytes(("a", [3]), ("b", [3])));
        Assert.Equal(3, (await Ckpt.RestoreBlobsAsync(store))!.Value.Step);
    }

    [Fact]
    public async Task TargetThatCannotParseIntactBytes_SurfacesItsOwnError_WithoutFallback()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("iterator", new byte[8])));
            await writer.SaveAsync(2, Ckpt.Bytes(("iterator", new byte[3])));
        }

        using CheckpointManager reader = Ckpt.Manager(store);
        var target = new ParseFailingState();

        await Assert.ThrowsAsync<EndOfStreamException>(() => reader.RestoreLatestAsync(Ckpt.Targets(("iterator", target))));
        Assert.Equal(0, reader.FallbackCount);
    }

    [Fact]
    public async Task ConcurrentCallsOnOneManager_RunOneAtATime_AndAllCommit()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store, keepMax: 100);

        await Task.WhenAll(Enumerable.Range(1, 20).Select(i => Task.Run(() => manager.SaveAsync(i, Ckpt.Bytes(("a", [(byte)i]), ("b", []))))));

        Assert.Equal(20, manager.CommitCount);
        Assert.Equal(20, (await manager.ListCheckpointsAsync()).Count);
        Assert.False(manager.IsOwnershipLost);
    }

    private sealed class DisposeTrackingSnapshot : ICheckpointSnapshot
    {
        public bool Disposed { get; private set; }

        public long? Length => 1;

        public ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default) =>
            destination.WriteAsync(new byte[] { 9 }, cancellationToken);

        public void Dispose() => Disposed = true;
    }

    private sealed class ParseFailingState : ICheckpointable
    {
        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.FromBytes(new byte[3]);

        public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
        {
            var buffer = new byte[8];
            await state.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
    }
}
