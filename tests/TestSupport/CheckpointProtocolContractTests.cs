using System.Security.Cryptography;
using InputPipeline.Checkpointing.Testing;
using Xunit;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>
/// The core's commit protocol run end to end on a real store: commit and restore, ownership, retention, fallback,
/// rebuild from listing, restore at a step, and orphan collection. Written once; each provider runs it against its
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

    /// <summary>Returns a chain name unique to one test.</summary>
    protected static string NewChain() => "t" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    private static CheckpointManager Manager(IInputStateStore store, string chain, int keepMax = 5, TimeSpan? grace = null) =>
        new(store, new CheckpointManagerOptions { Chain = chain, KeepMax = keepMax, OrphanGracePeriod = grace ?? TimeSpan.FromHours(1) });

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
