using System.Security.Cryptography;
using InputPipeline.Checkpointing.Testing;
using Xunit;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>
/// The core's commit protocol run end to end on a real store: commit and restore, ownership and the claim that fences
/// a replaced writer (with its races against a commit and a prune), retention, fallback, rebuild from listing, restore
/// at a step, and orphan collection. Written once; each provider runs it against its
/// emulator. Every test uses its own chain name, so a shared bucket or container is fine.
/// </summary>
public abstract class CheckpointProtocolContractTests
{
    /// <summary>Creates the store under test (or returns a shared one); called once per test.</summary>
    protected abstract Task<IInputStateStore> CreateStoreAsync();

    [Fact]
    public async Task Save_ThenRestore_ReturnsEveryPartByteForByte()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        byte[] big = RandomNumberGenerator.GetBytes((1024 * 1024) + 17);
        byte[] small = RandomNumberGenerator.GetBytes(33);
        using (CheckpointManager writer = Manager(store, chain))
        {
            await writer.SaveAsync(7, Snapshots(("big", big), ("small", small)));
        }

        using CheckpointManager reader = Manager(store, chain);
        var restoredBig = new BytesState();
        var restoredSmall = new BytesState();
        CheckpointReference? restored = await reader.RestoreLatestAsync(Targets(("big", restoredBig), ("small", restoredSmall)));

        Assert.Equal(7, restored?.Step);
        Assert.Equal(big, restoredBig.Bytes);
        Assert.Equal(small, restoredSmall.Bytes);
    }

    [Fact]
    public async Task TwoWriters_ExactlyOneKeepsOwnership_AndTheLatestNeverGoesBackwards()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        using CheckpointManager first = Manager(store, chain);
        using CheckpointManager second = Manager(store, chain);
        await first.SaveAsync(1, Snapshots(("s", [1])));
        await second.ListCheckpointsAsync();
        await second.SaveAsync(2, Snapshots(("s", [2])));

        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => first.SaveAsync(3, Snapshots(("s", [3]))));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => first.SaveAsync(4, Snapshots(("s", [4]))));
        await second.SaveAsync(5, Snapshots(("s", [5])));

        using CheckpointManager reader = Manager(store, chain);
        IReadOnlyList<CheckpointReference> retained = await reader.ListCheckpointsAsync();
        Assert.Equal([5L, 2, 1], retained.Select(c => c.Step));
        Assert.True(first.IsOwnershipLost);
        Assert.False(second.IsOwnershipLost);
    }

    [Fact]
    public async Task Retention_KeepsExactlyKeepMaxCheckpointsAndTheirParts()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        using CheckpointManager writer = Manager(store, chain, keepMax: 2);
        for (int step = 1; step <= 6; step++)
        {
            await writer.SaveAsync(step, Snapshots(("a", [(byte)step]), ("b", [(byte)(step + 100)])));
        }

        List<string> keys = await KeysAsync(store, chain + ".ckpt-");
        Assert.Equal(2, keys.Count(k => k.EndsWith(".manifest", StringComparison.Ordinal)));
        Assert.Equal(4, keys.Count(k => k.EndsWith(".part", StringComparison.Ordinal)));
        Assert.Equal(6, keys.Count);
        Assert.All(keys, k => Assert.True(k.StartsWith(chain + ".ckpt-6.", StringComparison.Ordinal) || k.StartsWith(chain + ".ckpt-5.", StringComparison.Ordinal), k));
    }

    [Fact]
    public async Task DamagedLatestPart_FallsBackToThePreviousCheckpoint()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        CheckpointReference latest;
        using (CheckpointManager writer = Manager(store, chain))
        {
            await writer.SaveAsync(1, Snapshots(("s", [1, 1, 1, 1])));
            latest = await writer.SaveAsync(2, Snapshots(("s", [2, 2, 2, 2])));
        }

        using CheckpointManager reader = Manager(store, chain);
        CheckpointManifest manifest = await reader.ReadManifestAsync(latest);
        await store.WriteAsync(manifest.Parts[0].Key, new MemoryStream([2, 2, 9, 2]), WriteCondition.None);

        var state = new BytesState();
        CheckpointReference? restored = await reader.RestoreLatestAsync(Targets(("s", state)));

        Assert.Equal(1, restored?.Step);
        Assert.Equal([1, 1, 1, 1], state.Bytes);
        Assert.Equal(1, reader.FallbackCount);
    }

    [Fact]
    public async Task MissingStateFile_IsRebuiltByListingManifests()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        using (CheckpointManager writer = Manager(store, chain))
        {
            await writer.SaveAsync(3, Snapshots(("s", [3])));
            await writer.SaveAsync(4, Snapshots(("s", [4])));
        }

        Assert.True(await store.DeleteAsync("checkpoint_" + chain));

        using CheckpointManager reader = Manager(store, chain);
        var state = new BytesState();
        CheckpointReference? restored = await reader.RestoreLatestAsync(Targets(("s", state)));

        Assert.Equal(4, restored?.Step);
        Assert.Equal([4], state.Bytes);
    }

    [Fact]
    public async Task RestoreAtStep_PicksExactlyThatCheckpoint_OrFailsClearly()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        using (CheckpointManager writer = Manager(store, chain))
        {
            await writer.SaveAsync(10, Snapshots(("s", [10])));
            await writer.SaveAsync(20, Snapshots(("s", [20])));
            await writer.SaveAsync(30, Snapshots(("s", [30])));
        }

        using CheckpointManager reader = Manager(store, chain);
        var state = new BytesState();
        CheckpointReference restored = await reader.RestoreAsync(20, Targets(("s", state)));
        var missing = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => reader.RestoreAsync(25, Targets(("s", new BytesState()))));

        Assert.Equal(20, restored.Step);
        Assert.Equal([20], state.Bytes);
        Assert.Contains("30, 20, 10", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUncommittedSave_IsCollectedAsAnOrphan_AndTheCommittedOnesStay()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        var faulty = new FaultInjectingInputStateStore(store);
        using (CheckpointManager writer = Manager(faulty, chain, grace: TimeSpan.Zero))
        {
            await writer.SaveAsync(1, Snapshots(("s", [1])));
            faulty.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key == "checkpoint_" + chain));
            await Assert.ThrowsAsync<CheckpointStoreException>(() => writer.SaveAsync(2, Snapshots(("s", [2]))));
        }

        Assert.Equal(4, (await KeysAsync(store, chain + ".ckpt-")).Count);

        using CheckpointManager collector = Manager(store, chain, grace: TimeSpan.Zero);
        IReadOnlyList<string> dryRun = await collector.CollectOrphansAsync(dryRun: true);
        Assert.Equal(4, (await KeysAsync(store, chain + ".ckpt-")).Count);
        IReadOnlyList<string> collected = await collector.CollectOrphansAsync();

        Assert.Equal(dryRun.Order(StringComparer.Ordinal), collected.Order(StringComparer.Ordinal));
        Assert.Equal(2, collected.Count);
        Assert.All(collected, k => Assert.StartsWith(chain + ".ckpt-2.", k, StringComparison.Ordinal));
        List<string> left = await KeysAsync(store, chain + ".ckpt-");
        Assert.Equal(2, left.Count);
        Assert.All(left, k => Assert.StartsWith(chain + ".ckpt-1.", k, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("part")]
    [InlineData("commit")]
    public async Task AClaim_FencesTheWriterItReplaces_AndItsSaveInFlightNeverBecomesTheLatest(string hungAt)
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        var oldSide = new FaultInjectingInputStateStore(store);
        using CheckpointManager old = Manager(oldSide, chain);
        await old.ClaimAsync();
        await old.SaveAsync(1, Snapshots(("s", [1])));
        string hungKey = hungAt == "part" ? chain + ".ckpt-2." : "checkpoint_" + chain;
        oldSide.Arm(Fault.Hang.When(c => c.Operation == StoreOperation.Write && c.Key.StartsWith(hungKey, StringComparison.Ordinal)));
        Task<CheckpointReference> inFlight = old.SaveAsync(2, Snapshots(("s", [2])));
        await oldSide.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));

        using CheckpointManager replacement = Manager(store, chain);
        await replacement.ClaimAsync();
        var state = new BytesState();
        CheckpointReference? restored = await replacement.RestoreLatestAsync(Targets(("s", state)));
        oldSide.ReleaseHangs();

        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => inFlight);
        Assert.Equal(1, restored?.Step);
        Assert.Equal([1], state.Bytes);
        Assert.Equal(old.OwnerEpoch + 1, replacement.OwnerEpoch);
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => old.SaveAsync(3, Snapshots(("s", [3]))));
        await replacement.SaveAsync(3, Snapshots(("s", [33])));
        CheckpointStateFile final = await StateFileAsync(store, chain);
        Assert.Equal([3L, 1], final.Checkpoints.Select(c => c.Step));
        Assert.Equal(replacement.OwnerEpoch, final.OwnerEpoch);
        Assert.Equal(replacement.WriterId, final.OwnerId);
    }

    [Fact]
    public async Task AClaimRacingACommit_KeepsTheCommitThatLandedFirst_AndFencesItsWriterAfterwards()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        using CheckpointManager old = Manager(store, chain);
        await old.ClaimAsync();
        await old.SaveAsync(1, Snapshots(("s", [1])));
        var replacementSide = new FaultInjectingInputStateStore(store);
        using CheckpointManager replacement = Manager(replacementSide, chain);

        // The claim has read the state file and is about to replace it when the old writer commits step 2.
        replacementSide.Arm(Fault.Hang.When(c => c.Operation == StoreOperation.Write && c.Key == "checkpoint_" + chain));
        Task claim = replacement.ClaimAsync();
        await replacementSide.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await old.SaveAsync(2, Snapshots(("s", [2])));
        replacementSide.ReleaseHangs();
        await claim;

        var state = new BytesState();
        CheckpointReference? restored = await replacement.RestoreLatestAsync(Targets(("s", state)));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => old.SaveAsync(3, Snapshots(("s", [3]))));
        await replacement.SaveAsync(3, Snapshots(("s", [33])));

        Assert.Equal(2, restored?.Step);
        Assert.Equal([2], state.Bytes);
        Assert.Equal([3L, 2, 1], (await StateFileAsync(store, chain)).Checkpoints.Select(c => c.Step));
        Assert.Equal(old.OwnerEpoch + 1, replacement.OwnerEpoch);
    }

    [Fact]
    public async Task APruneByAManagerThatDoesNotOwnTheChain_KeepsTheOwnersEpoch_AndTheOwnerGoesOn()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        var ownerSide = new FaultInjectingInputStateStore(store);
        using CheckpointManager owner = Manager(ownerSide, chain);
        await owner.ClaimAsync();
        for (byte step = 1; step <= 3; step++)
        {
            await owner.SaveAsync(step, Snapshots(("s", [step])));
        }

        // A prune between two saves, then one while the owner's commit is in flight.
        using (CheckpointManager pruner = Manager(store, chain))
        {
            Assert.Equal([2L, 1], (await pruner.PruneAsync(1)).Select(c => c.Step));
            Assert.Null(pruner.OwnerEpoch);
        }

        await owner.SaveAsync(4, Snapshots(("s", [4])));
        ownerSide.Arm(Fault.Hang.When(c => c.Operation == StoreOperation.Write && c.Key == "checkpoint_" + chain));
        Task<CheckpointReference> inFlight = owner.SaveAsync(5, Snapshots(("s", [5])));
        await ownerSide.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));
        using (CheckpointManager pruner = Manager(store, chain))
        {
            Assert.Equal([3L], (await pruner.PruneAsync(1)).Select(c => c.Step));
        }

        ownerSide.ReleaseHangs();
        CheckpointReference five = await inFlight;
        await owner.SaveAsync(6, Snapshots(("s", [6])));

        Assert.False(owner.IsOwnershipLost);
        CheckpointStateFile final = await StateFileAsync(store, chain);
        Assert.Equal([6L, 5, 4], final.Checkpoints.Select(c => c.Step));
        Assert.Equal((owner.OwnerEpoch, owner.WriterId), (final.OwnerEpoch, final.OwnerId));
        Assert.Equal(5, five.Step);
        List<string> keys = await KeysAsync(store, chain + ".ckpt-");
        Assert.DoesNotContain(keys, k => k.StartsWith(chain + ".ckpt-1.", StringComparison.Ordinal) || k.StartsWith(chain + ".ckpt-2.", StringComparison.Ordinal) || k.StartsWith(chain + ".ckpt-3.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FirstWriterWins_ASecondCopyStopsAtItsFirstCommit_AndTheFirstGoesOn()
    {
        IInputStateStore store = await CreateStoreAsync();
        string chain = NewChain();
        using CheckpointManager first = Manager(store, chain, ownership: OwnershipPolicy.FirstWriterWins);
        await first.ClaimAsync();
        await first.SaveAsync(1, Snapshots(("s", [1])));
        using CheckpointManager second = Manager(store, chain, ownership: OwnershipPolicy.FirstWriterWins);
        await second.ClaimAsync();
        var state = new BytesState();
        Assert.Equal(1, (await second.RestoreLatestAsync(Targets(("s", state))))?.Step);
        Assert.Null(second.OwnerEpoch);

        await first.SaveAsync(2, Snapshots(("s", [2])));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => second.SaveAsync(2, Snapshots(("s", [22]))));
        await first.SaveAsync(3, Snapshots(("s", [3])));

        Assert.Equal([3L, 2, 1], (await StateFileAsync(store, chain)).Checkpoints.Select(c => c.Step));
        Assert.False(first.IsOwnershipLost);
        Assert.True(second.IsOwnershipLost);
    }

    /// <summary>Returns a chain name unique to one test.</summary>
    protected static string NewChain() => "t" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    private static CheckpointManager Manager(IInputStateStore store, string chain, int keepMax = 5, TimeSpan? grace = null, OwnershipPolicy ownership = OwnershipPolicy.TakeOver) =>
        new(store, new CheckpointManagerOptions { Chain = chain, KeepMax = keepMax, OrphanGracePeriod = grace ?? TimeSpan.FromHours(1), Ownership = ownership });

    private static async Task<CheckpointStateFile> StateFileAsync(IInputStateStore store, string chain)
    {
        string key = "checkpoint_" + chain;
        StoreReadResult read = await store.ReadAsync(key) ?? throw new InvalidOperationException($"{key} is missing");
        await using (read)
        {
            using var buffer = new MemoryStream();
            await read.Content.CopyToAsync(buffer);
            return CheckpointStateFile.Parse(buffer.ToArray(), key);
        }
    }

    private static KeyValuePair<string, ICheckpointSnapshot>[] Snapshots(params (string Name, byte[] Bytes)[] parts) =>
        [.. parts.Select(p => new KeyValuePair<string, ICheckpointSnapshot>(p.Name, CheckpointSnapshots.CopyOf(p.Bytes)))];

    private static KeyValuePair<string, ICheckpointable>[] Targets(params (string Name, ICheckpointable Item)[] targets) =>
        [.. targets.Select(t => new KeyValuePair<string, ICheckpointable>(t.Name, t.Item))];

    private static async Task<List<string>> KeysAsync(IInputStateStore store, string prefix)
    {
        var keys = new List<string>();
        await foreach (StoreObjectInfo info in store.ListAsync(prefix))
        {
            keys.Add(info.Key);
        }

        return keys;
    }

    private sealed class BytesState : ICheckpointable
    {
        public byte[] Bytes { get; private set; } = [];

        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.CopyOf(Bytes);

        public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
        {
            using var buffer = new MemoryStream();
            await state.CopyToAsync(buffer, cancellationToken);
            Bytes = buffer.ToArray();
        }
    }
}
