using System.Collections.Concurrent;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// The claim: a writer that starts takes its chain over with a new owner epoch, so the newest launch wins and every
/// older writer (a zombie of a replaced VM) is fenced off at its next commit; changes that keep the owner are re-applied.
/// </summary>
public sealed class ClaimTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-claim");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Stores() => ["InMemory", "Local"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task TenAlternatingRestartsOfTwoWriters_LeaveAChainWhoseLatestNeverWentBackwards(string kind)
    {
        // Two VMs take turns: each restart claims the chain, restores, saves a few steps; the replaced process is still
        // alive (a zombie) and tries to save once more after the claim. Each process has its own store instance.
        IInputStateStore NewProcessStore() => kind == "Local" ? new LocalInputStateStore(_dir.Combine("store")) : _shared;
        var latest = new List<long>();
        CheckpointManager? zombie = null;
        long position = 0;
        try
        {
            for (int restart = 1; restart <= 10; restart++)
            {
                IInputStateStore store = NewProcessStore();
                var manager = new CheckpointManager(store, new CheckpointManagerOptions { WriterId = restart % 2 == 1 ? "vm-a" : "vm-b", KeepMax = 3 });
                await manager.ClaimAsync();
                var iterator = new CountingIterator();
                CheckpointReference? restored = await manager.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));
                Assert.Equal(position, iterator.Position);
                Assert.Equal(restored?.Step ?? 0, position);
                latest.Add(await LatestStepAsync(store));

                if (zombie is not null)
                {
                    await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => zombie.SaveAsync(position + 100, Ckpt.Bytes(("iterator", BitConverter.GetBytes(-1L)))));
                    latest.Add(await LatestStepAsync(store));
                    zombie.Dispose();
                }

                for (int i = 0; i < 3; i++)
                {
                    position += 5;
                    for (int n = 0; n < 5; n++)
                    {
                        await iterator.MoveNextAsync();
                    }

                    await manager.SaveAsync(position, Ckpt.Capture(("iterator", iterator)));
                    latest.Add(await LatestStepAsync(store));
                }

                Assert.Equal(restart, manager.OwnerEpoch);
                zombie = manager;
            }
        }
        finally
        {
            zombie?.Dispose();
        }

        Assert.Equal(latest.Order(), latest);
        Assert.Equal(150, latest[^1]);
        CheckpointStateFile final = await Ckpt.ReadStateFileAsync(NewProcessStore());
        Assert.Equal(10, final.OwnerEpoch);
        Assert.StartsWith("vm-b#", final.OwnerId, StringComparison.Ordinal);
        Assert.Equal([150L, 145, 140], final.Checkpoints.Select(c => c.Step));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task AClaimRacingCommits_AlwaysLeavesOneOwner_AndTheLatestNeverGoesBackwards(string kind)
    {
        for (int round = 0; round < 6; round++)
        {
            string root = _dir.Combine($"race-{round}");
            IInputStateStore Store() => kind == "Local" ? new LocalInputStateStore(root) : _shared;
            if (kind == "InMemory")
            {
                _shared = new InMemoryInputStateStore();
            }

            using var old = new CheckpointManager(Store(), new CheckpointManagerOptions { KeepMax = 10 });
            await old.ClaimAsync();
            await old.SaveAsync(1, Ckpt.Bytes(("iterator", BitConverter.GetBytes(1L))));
            using var replacement = new CheckpointManager(Store(), new CheckpointManagerOptions { KeepMax = 10 });
            var observed = new ConcurrentQueue<long>();

            // The old writer keeps committing while the replacement claims; whichever way each race goes, the old
            // writer's saves stop at the claim and nothing it committed before is lost.
            Task<int> committing = Task.Run(async () =>
            {
                int committed = 0;
                for (long step = 2; step <= 40; step++)
                {
                    try
                    {
                        await old.SaveAsync(step, Ckpt.Bytes(("iterator", BitConverter.GetBytes(step))));
                        committed++;
                        observed.Enqueue(step);
                    }
                    catch (CheckpointOwnershipLostException)
                    {
                        return committed;
                    }
                }

                return committed;
            });
            await Task.Delay(round * 3);
            await replacement.ClaimAsync();
            var iterator = new CountingIterator();
            CheckpointReference? restored = await replacement.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));
            int oldCommits = await committing;

            long claimedLatest = restored!.Step;
            Assert.Equal(claimedLatest, iterator.Position);
            Assert.Equal(1 + oldCommits, claimedLatest); // every commit of the old writer that landed is the one claimed
            Assert.Equal(oldCommits < 39, old.IsOwnershipLost);
            await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => old.SaveAsync(100, Ckpt.Bytes(("iterator", BitConverter.GetBytes(100L)))));
            await replacement.SaveAsync(claimedLatest + 1, Ckpt.Bytes(("iterator", BitConverter.GetBytes(claimedLatest + 1))));
            CheckpointStateFile final = await Ckpt.ReadStateFileAsync(Store());
            Assert.Equal(claimedLatest + 1, final.Latest!.Step);
            Assert.Equal(replacement.OwnerEpoch, final.OwnerEpoch);
            Assert.Equal(2, final.OwnerEpoch);
        }
    }

    [Fact]
    public async Task AClaimedRestore_ReadsTheStateFileOnce_AndThePartsWithoutTheManifest()
    {
        var inner = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(inner))
        {
            await writer.SaveAsync(10, Ckpt.Bytes(("a", [1]), ("b", [2])));
            await writer.SaveAsync(20, Ckpt.Bytes(("a", [3]), ("b", [4])));
        }

        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager starting = Ckpt.Manager(store);
        await starting.ClaimAsync();
        var a = new BlobState([]);
        var b = new BlobState([]);
        CheckpointReference? restored = await starting.RestoreLatestAsync(Ckpt.Targets(("a", a), ("b", b)));

        Assert.Equal(20, restored?.Step);
        Assert.Equal([3], a.Data);
        Assert.Equal([4], b.Data);
        Assert.Equal(
            [(StoreOperation.Read, Ckpt.StateFile), (StoreOperation.Write, Ckpt.StateFile), (StoreOperation.Read, "a"), (StoreOperation.Read, "b")],
            store.Calls.Select(c => (c.Operation, c.Key.EndsWith(".a.part", StringComparison.Ordinal) ? "a" : c.Key.EndsWith(".b.part", StringComparison.Ordinal) ? "b" : c.Key)));
        Assert.Equal(WriteConditionKind.IfVersionMatches, store.Calls[1].Condition!.Value.Kind);
    }

    [Fact]
    public async Task ClaimingAChainANewerSdkWrote_IsRefused_AndChangesNothing()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        }

        store.Corrupt(Ckpt.StateFile, b => Ckpt.Text(System.Text.Encoding.UTF8.GetString(b).Replace("\"formatVersion\": 2", "\"formatVersion\": 3", StringComparison.Ordinal)));
        byte[] before = store.GetBytes(Ckpt.StateFile)!;
        using CheckpointManager older = Ckpt.Manager(store);

        CheckpointFormatVersionException error = await Assert.ThrowsAsync<CheckpointFormatVersionException>(() => older.ClaimAsync());

        Assert.Equal(3, error.FoundVersion);
        Assert.Equal(CheckpointStateFile.CurrentFormatVersion, error.SupportedVersion);
        Assert.Equal(before, store.GetBytes(Ckpt.StateFile));
        Assert.Null(older.OwnerEpoch);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("garbage")]
    public async Task ClaimingAChainWhoseStateFileIsLostOrDamaged_RebuildsItFromTheManifests(string damage)
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1])));
            await writer.SaveAsync(2, Ckpt.Bytes(("a", [2])));
        }

        _ = damage == "missing" ? store.Remove(Ckpt.StateFile) : store.Corrupt(Ckpt.StateFile, b => b[..9]);
        using var logs = new ListLoggerProvider();
        using CheckpointManager starting = Ckpt.Manager(store, loggers: logs.CreateFactory());
        await starting.ClaimAsync();
        var a = new BlobState([]);

        Assert.Equal(2, (await starting.RestoreLatestAsync(Ckpt.Targets(("a", a))))?.Step);
        Assert.Equal([2], a.Data);
        CheckpointStateFile repaired = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal([2L, 1], repaired.Checkpoints.Select(c => c.Step));
        Assert.Equal((1L, starting.WriterId), (repaired.OwnerEpoch, repaired.OwnerId));
        Assert.Equal(2, repaired.LatestManifest?.Step);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1001);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1019);
    }

    [Fact]
    public async Task ClaimingANewChain_WritesNothing_AndTheFirstCommitClaimsIt()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager first = Ckpt.Manager(store);
        await first.ClaimAsync();
        Assert.DoesNotContain(store.Calls, c => c.Operation == StoreOperation.Write);
        Assert.Null(first.OwnerEpoch);

        await first.SaveAsync(0, Ckpt.Bytes(("a", [0])));

        CheckpointStateFile created = await Ckpt.ReadStateFileAsync(store.Inner);
        Assert.Equal(1, first.OwnerEpoch);
        Assert.Equal((1L, first.WriterId), (created.OwnerEpoch, created.OwnerId));
        Assert.Equal(WriteConditionKind.IfAbsent, store.Calls.Single(c => c.Key == Ckpt.StateFile && c.Operation == StoreOperation.Write).Condition!.Value.Kind);
    }

    [Fact]
    public async Task ClaimingTwice_DoesNothingMore_AndAWriterThatLostCannotClaimAgain()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager first = Ckpt.Manager(store);
        await first.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        byte[] committed = store.GetBytes(Ckpt.StateFile)!;
        await first.ClaimAsync();
        Assert.Equal(committed, store.GetBytes(Ckpt.StateFile));

        using CheckpointManager second = Ckpt.Manager(store);
        await second.ClaimAsync();
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => first.SaveAsync(2, Ckpt.Bytes(("a", [2]))));

        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => first.ClaimAsync());
        Assert.Equal(2, second.OwnerEpoch);
    }

    [Fact]
    public async Task TheSameWriterIdOnTwoProcesses_IsStillToldApart()
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointManagerOptions { WriterId = "trainer" };
        using var first = new CheckpointManager(store, options);
        using var second = new CheckpointManager(store, options);
        await first.ClaimAsync();
        await first.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        await second.ClaimAsync();

        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => first.SaveAsync(2, Ckpt.Bytes(("a", [2]))));
        await second.SaveAsync(2, Ckpt.Bytes(("a", [22])));

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal("trainer", state.WriterId);
        Assert.StartsWith("trainer#", state.OwnerId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHookThatStartsLater_TakesTheChainOver_AndTheEarlierHookStopsEvenUnderLogAndContinue()
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, SaveInBackground = true, OnSaveFailure = SaveFailurePolicy.LogAndContinue };
        await using var early = new CheckpointInputPipelineHook(store, options);
        var earlySession = new FakeSession();
        var earlyIterator = new CountingIterator();
        earlySession.Iterators.Add("iterator", earlyIterator);
        await early.BeforeRunAsync(new SessionRunContext(earlySession, Ckpt.Start));
        for (int step = 1; step <= 3; step++)
        {
            await earlyIterator.MoveNextAsync();
            earlySession.GlobalStep = step;
            await early.AfterRunAsync(new SessionRunContext(earlySession, Ckpt.Start));
        }

        await early.EndAsync(earlySession); // waits for the background save of step 3

        await using var late = new CheckpointInputPipelineHook(store, options);
        var lateSession = new FakeSession { GlobalStep = 3 };
        var lateIterator = new CountingIterator();
        lateSession.Iterators.Add("iterator", lateIterator);
        await late.BeforeRunAsync(new SessionRunContext(lateSession, Ckpt.Start));

        Assert.Equal(3, late.RestoredCheckpoint?.Step);
        Assert.Equal(3, lateIterator.Position);
        earlySession.GlobalStep = 4;
        await earlyIterator.MoveNextAsync();
        await early.AfterRunAsync(new SessionRunContext(earlySession, Ckpt.Start));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(async () => await early.EndAsync(earlySession));
        Assert.True(early.Manager.IsOwnershipLost);
        lateSession.GlobalStep = 4;
        await late.AfterRunAsync(new SessionRunContext(lateSession, Ckpt.Start));
        await late.EndAsync(lateSession);
        Assert.Equal(4, (await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        Assert.Equal(late.Manager.WriterId, (await Ckpt.ReadStateFileAsync(store)).OwnerId);
    }

    [Fact]
    public async Task TheEstimator_ClaimsTheModelAndInputChains_SoAnOlderEstimatorStopsAtItsNextSave()
    {
        var store = new InMemoryInputStateStore();
        var config = new RunConfig { Store = store, SaveCheckpointsSteps = 1, SaveInBackground = false };
        var gate = new SemaphoreSlim(0);
        var blocking = new GatedModel(blockAtStep: 4, gate);
        using var older = new Estimator<long>(blocking, config);
        Task<long> olderRun = older.TrainAsync(() => new CountingIterator(), hooks: [new CheckpointInputPipelineHook(older)], maxSteps: 10);
        await blocking.Blocked.Task.WaitAsync(TimeSpan.FromSeconds(60));

        using var newer = new Estimator<long>(new GatedModel(blockAtStep: -1, gate), config);
        long reached = await newer.TrainAsync(() => new CountingIterator(), hooks: [new CheckpointInputPipelineHook(newer)], maxSteps: 10);
        gate.Release();

        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => olderRun);
        Assert.Equal(10, reached);
        CheckpointStateFile model = await Ckpt.ReadStateFileAsync(store, "checkpoint");
        CheckpointStateFile input = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal((newer.ModelCheckpoints.OwnerEpoch, newer.ModelCheckpoints.WriterId), (model.OwnerEpoch, model.OwnerId));
        Assert.Equal((newer.InputCheckpoints.OwnerEpoch, newer.InputCheckpoints.WriterId), (input.OwnerEpoch, input.OwnerId));
        Assert.Equal(2, input.OwnerEpoch);
        Assert.Equal((10L, 10L), (model.Latest!.Step, input.Latest!.Step));
    }

    [Fact]
    public async Task AStateFileThatKeepsChangingWithoutAChangeOfOwner_EndsACommitOrClaimWithAConflict_AndTheNextOneGoesThrough()
    {
        var inner = new InMemoryInputStateStore();
        var store = new ChurningStore(inner);
        using CheckpointManager owner = Ckpt.Manager(store);
        await owner.SaveAsync(1, Ckpt.Bytes(("a", [1])));

        // Every swap of the state file loses its race against a rewrite that keeps the owner (a prune, say).
        store.Churn = true;
        await Assert.ThrowsAsync<CheckpointConflictException>(() => owner.SaveAsync(2, Ckpt.Bytes(("a", [2]))));
        using CheckpointManager claimer = Ckpt.Manager(store);
        await Assert.ThrowsAsync<CheckpointConflictException>(() => claimer.ClaimAsync());
        Assert.False(owner.IsOwnershipLost);
        Assert.Null(claimer.OwnerEpoch);
        Assert.Equal([1L], (await Ckpt.ReadStateFileAsync(inner)).Checkpoints.Select(c => c.Step));
        Assert.True(store.Rewrites >= 8 + 10);

        store.Churn = false;
        await owner.SaveAsync(3, Ckpt.Bytes(("a", [3])));
        Assert.Equal([3L, 1], (await Ckpt.ReadStateFileAsync(inner)).Checkpoints.Select(c => c.Step));
        await claimer.ClaimAsync();
        Assert.Equal(2, claimer.OwnerEpoch);
    }

    [Fact]
    public void AnUnknownOwnershipPolicy_IsRejectedNamingTheOption()
    {
        var manager = Assert.Throws<CheckpointOptionsException>(() => new CheckpointManager(new InMemoryInputStateStore(), new CheckpointManagerOptions { Ownership = (OwnershipPolicy)7 }));
        var hook = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHookOptions { SaveSteps = 1, Ownership = (OwnershipPolicy)7 }.Validate());

        Assert.Equal("Ownership", manager.OptionName);
        Assert.Equal("Ownership", hook.OptionName);
    }

    private InMemoryInputStateStore _shared = new();

    private static async Task<long> LatestStepAsync(IInputStateStore store) =>
        await Ckpt.ReadAllAsync(store, Ckpt.StateFile) is { } bytes ? CheckpointStateFile.Parse(bytes, Ckpt.StateFile).Latest?.Step ?? 0 : 0;

    /// <summary>A store where, while <see cref="Churn"/> is set, the state file is rewritten unchanged just before each conditional write of it.</summary>
    private sealed class ChurningStore(IInputStateStore inner) : IInputStateStore
    {
        public bool Churn { get; set; }

        public int Rewrites { get; private set; }

        public string ProviderName => inner.ProviderName;

        public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
        {
            if (Churn && key == Ckpt.StateFile && condition.Kind == WriteConditionKind.IfVersionMatches)
            {
                byte[] current = (await Ckpt.ReadAllAsync(inner, key))!;
                await inner.WriteAsync(key, new MemoryStream(current), WriteCondition.None, cancellationToken);
                Rewrites++;
            }

            return await inner.WriteAsync(key, content, condition, cancellationToken);
        }

        public Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default) => inner.ReadAsync(key, offset, cancellationToken);

        public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, ifVersion, cancellationToken);
    }

    /// <summary>A model whose training blocks at one step until a gate opens.</summary>
    private sealed class GatedModel(long blockAtStep, SemaphoreSlim gate) : IEstimatorModel<long>
    {
        private long _sum;

        public TaskCompletionSource Blocked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask TrainStepAsync(long batch, long globalStep, CancellationToken cancellationToken = default)
        {
            if (globalStep == blockAtStep)
            {
                Blocked.TrySetResult();
                await gate.WaitAsync(cancellationToken);
            }

            _sum += batch;
        }

        public ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<long> batches, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IReadOnlyDictionary<string, double>>(new Dictionary<string, double>());

        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.CopyOf(BitConverter.GetBytes(_sum));

        public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
        {
            using var buffer = new MemoryStream();
            await state.CopyToAsync(buffer, cancellationToken);
            _sum = BitConverter.ToInt64(buffer.ToArray());
        }
    }
}
