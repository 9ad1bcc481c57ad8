using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// A fault at every store call of a save: whatever happens, a fresh reader restores exactly the previous checkpoint
/// (A) or exactly the new one (B, only if the commit call itself went through), only checkpoint exceptions escape, and
/// the same manager saves successfully afterwards. The same at every call of a start (the claim, then the restore):
/// the chain keeps A, and the start made again takes the chain over.
/// </summary>
public sealed class FaultInjectionTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-faults");
    private static readonly byte[] A1 = BlobState.Generate(3000, 11);
    private static readonly byte[] A2 = BlobState.Generate(500, 12);
    private static readonly byte[] B1 = BlobState.Generate(2900, 21);
    private static readonly byte[] B2 = BlobState.Generate(700, 22);
    private static readonly byte[] C1 = BlobState.Generate(100, 31);
    private static readonly byte[] C2 = BlobState.Generate(10, 32);

    /// <summary>
    /// keep5: the second save of a writer (parts, manifest, commit).
    /// keep1-collect: the same plus retention deletes of A and an orphan collection.
    /// fresh-writer: a restarted process's first save (state file read, parts, manifest, commit, first orphan collection).
    /// local-keep1-collect: keep1-collect over the Local store.
    /// </summary>
    public static TheoryData<string, string, int> Cases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (string scenario in new[] { "keep5", "keep1-collect", "fresh-writer", "local-keep1-collect" })
        {
            IReadOnlyList<StoreCall> calls = CountSecondSaveCallsAsync(scenario).GetAwaiter().GetResult();
            for (int k = 1; k <= calls.Count; k++)
            {
                foreach (string kind in new[] { "Crash", "Fail", "FailAfter", "Hang" })
                {
                    data.Add(scenario, kind, k);
                }

                if (calls[k - 1].Operation == StoreOperation.Write)
                {
                    data.Add(scenario, "CutShort0", k);
                    data.Add(scenario, "CutShort7", k);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task FaultAtCallK_OfASave_RestoresExactlyAOrB_AndTheManagerSavesAgain(string scenario, string kind, int k)
    {
        (FaultInjectingInputStateStore store, IInputStateStore inner, CheckpointManager manager) = await SetupAsync(scenario, _dir.Combine("store"));
        using (manager)
        {
            int baseline = store.CallCount;
            int target = baseline + k;
            Fault fault = kind switch
            {
                "Crash" => Fault.CrashAt(target),
                "Fail" => Fault.FailAt(target),
                "FailAfter" => Fault.FailAfterAt(target),
                "Hang" => Fault.HangAt(target),
                "CutShort0" => Fault.CutShortAt(target, 0),
                "CutShort7" => Fault.CutShortAt(target, 7),
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
            store.Arm(fault);

            Exception? thrown;
            if (kind == "Hang")
            {
                using var cts = new CancellationTokenSource();
                Task save = manager.SaveAsync(20, Ckpt.Bytes(("a", B1), ("b", B2)), cts.Token);
                StoreCall hung = await store.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Equal(target, hung.Number);
                await cts.CancelAsync();
                thrown = await Record.ExceptionAsync(() => save);
                Assert.IsAssignableFrom<OperationCanceledException>(thrown);
            }
            else
            {
                thrown = await Record.ExceptionAsync(() => manager.SaveAsync(20, Ckpt.Bytes(("a", B1), ("b", B2))));
                if (thrown is not null)
                {
                    Assert.IsAssignableFrom<CheckpointException>(thrown);
                }
            }

            IReadOnlyList<StoreCall> calls = store.Calls;
            Assert.Equal(fault.Kind, calls[target - 1].Fault);
            bool committed = calls.Skip(baseline).Any(c =>
                c.Operation == StoreOperation.Write && c.Key == Ckpt.StateFile && c.Fault is null or FaultKind.FailAfter);
            if (thrown is null)
            {
                Assert.True(committed, "A save that returned normally must have committed.");
            }

            (long step, byte[] a, byte[] b) = (await Ckpt.RestoreBlobsAsync(inner))!.Value;
            if (committed)
            {
                Assert.Equal(20, step);
                Assert.Equal(B1, a);
                Assert.Equal(B2, b);
            }
            else
            {
                Assert.Equal(10, step);
                Assert.Equal(A1, a);
                Assert.Equal(A2, b);
            }

            // Retried at the next trigger: the same writer commits again.
            store.Disarm();
            await manager.SaveAsync(30, Ckpt.Bytes(("a", C1), ("b", C2)));
            (long stepC, byte[] c1, byte[] c2) = (await Ckpt.RestoreBlobsAsync(inner))!.Value;
            Assert.Equal(30, stepC);
            Assert.Equal(C1, c1);
            Assert.Equal(C2, c2);
            Assert.False(manager.IsOwnershipLost);
        }
    }

    /// <summary>Every call of a start on a chain another writer still holds: the claim's read and write, then the restore's reads.</summary>
    public static TheoryData<string, int> StartCases()
    {
        var data = new TheoryData<string, int>();
        IReadOnlyList<StoreCall> calls = CountStartCallsAsync().GetAwaiter().GetResult();
        for (int k = 1; k <= calls.Count; k++)
        {
            foreach (string kind in new[] { "Crash", "Fail", "FailAfter", "Hang" })
            {
                data.Add(kind, k);
            }

            if (calls[k - 1].Operation == StoreOperation.Write)
            {
                data.Add("CutShort0", k);
                data.Add("CutShort7", k);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(StartCases))]
    public async Task FaultAtCallK_OfAStart_LeavesTheChainIntact_AndTheRetriedStartTakesItOver(string kind, int k)
    {
        var inner = new InMemoryInputStateStore();
        using CheckpointManager old = Ckpt.Manager(inner);
        await old.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager starting = Ckpt.Manager(store);
        Fault fault = kind switch
        {
            "Crash" => Fault.CrashAt(k),
            "Fail" => Fault.FailAt(k),
            "FailAfter" => Fault.FailAfterAt(k),
            "Hang" => Fault.HangAt(k),
            "CutShort0" => Fault.CutShortAt(k, 0),
            "CutShort7" => Fault.CutShortAt(k, 7),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        store.Arm(fault);

        using var cts = new CancellationTokenSource();
        Task start = StartAsync(starting, cts.Token);
        if (kind == "Hang")
        {
            StoreCall hung = await store.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(k, hung.Number);
            await cts.CancelAsync();
            Assert.IsAssignableFrom<OperationCanceledException>(await Record.ExceptionAsync(() => start));
        }
        else if (await Record.ExceptionAsync(() => start) is { } thrown)
        {
            Assert.IsAssignableFrom<CheckpointException>(thrown);
        }

        Assert.Equal(fault.Kind, store.Calls[k - 1].Fault);
        (long step, byte[] a, byte[] b) = (await Ckpt.RestoreBlobsAsync(inner))!.Value;
        Assert.Equal(10, step);
        Assert.Equal(A1, a);
        Assert.Equal(A2, b);

        // The job is started again: it owns the chain, restores A and commits C; the old writer is fenced off.
        store.Disarm();
        await StartAsync(starting, CancellationToken.None);
        await starting.SaveAsync(30, Ckpt.Bytes(("a", C1), ("b", C2)));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => old.SaveAsync(40, Ckpt.Bytes(("a", B1), ("b", B2))));
        (long stepC, byte[] c1, byte[] c2) = (await Ckpt.RestoreBlobsAsync(inner))!.Value;
        Assert.Equal(30, stepC);
        Assert.Equal(C1, c1);
        Assert.Equal(C2, c2);
        Assert.Equal(starting.OwnerEpoch, (await Ckpt.ReadStateFileAsync(inner)).OwnerEpoch);
        Assert.True(starting.OwnerEpoch >= 2);
    }

    [Fact]
    public async Task TheStartMatrixCoversTheClaimsReadAndWrite_AndTheRestoresReads()
    {
        IReadOnlyList<StoreCall> start = await CountStartCallsAsync();

        Assert.Equal(
            [(StoreOperation.Read, Ckpt.StateFile), (StoreOperation.Write, Ckpt.StateFile), (StoreOperation.Read, "part"), (StoreOperation.Read, "part")],
            start.Select(c => (c.Operation, c.Key.EndsWith(".part", StringComparison.Ordinal) ? "part" : c.Key)));
        Assert.Equal(WriteConditionKind.IfVersionMatches, start[1].Condition!.Value.Kind);
    }

    [Fact]
    public async Task TheMatrixCoversEveryKindOfCallOfASave()
    {
        IReadOnlyList<StoreCall> keep5 = await CountSecondSaveCallsAsync("keep5");
        IReadOnlyList<StoreCall> keep1 = await CountSecondSaveCallsAsync("keep1-collect");
        IReadOnlyList<StoreCall> fresh = await CountSecondSaveCallsAsync("fresh-writer");
        IReadOnlyList<StoreCall> local = await CountSecondSaveCallsAsync("local-keep1-collect");

        Assert.Equal([StoreOperation.Write, StoreOperation.Write, StoreOperation.Write, StoreOperation.Write], keep5.Select(c => c.Operation));
        Assert.Contains(keep1, c => c.Operation == StoreOperation.Delete);
        Assert.Contains(keep1, c => c.Operation == StoreOperation.List);
        Assert.Equal(StoreOperation.Read, fresh[0].Operation);
        Assert.Equal(Ckpt.StateFile, fresh[0].Key);
        Assert.Equal(keep1.Select(c => (c.Operation, c.Condition?.Kind)), local.Select(c => (c.Operation, c.Condition?.Kind)));
    }

    [Fact]
    public async Task LostCommitResponse_WhoseConfirmationAlsoFails_IsRecognisedAtTheNextSave()
    {
        var inner = new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager manager = Ckpt.Manager(store);
        await manager.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
        store.Arm(Fault.FailAfter.When(c => c.Operation == StoreOperation.Write && c.Key == Ckpt.StateFile));
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Read && c.Key == Ckpt.StateFile));

        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(20, Ckpt.Bytes(("a", B1), ("b", B2))));
        Assert.Equal(20, (await Ckpt.RestoreBlobsAsync(inner))!.Value.Step);

        await manager.SaveAsync(30, Ckpt.Bytes(("a", C1), ("b", C2)));

        Assert.False(manager.IsOwnershipLost);
        Assert.Equal([30L, 20L, 10L], (await Ckpt.ReadStateFileAsync(inner)).Checkpoints.Select(c => c.Step));
    }

    [Fact]
    public async Task TransientReadFailureDuringRestore_IsAStoreError_NotAFallback()
    {
        var inner = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(inner))
        {
            await writer.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
            await writer.SaveAsync(20, Ckpt.Bytes(("a", B1), ("b", B2)));
        }

        var store = new FaultInjectingInputStateStore(inner);
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Read && c.Key.EndsWith(".part", StringComparison.Ordinal)));
        using CheckpointManager reader = Ckpt.Manager(store);

        await Assert.ThrowsAsync<CheckpointStoreException>(() => reader.RestoreLatestAsync(Ckpt.Targets(("a", new BlobState([])), ("b", new BlobState([])))));
        Assert.Equal(0, reader.FallbackCount);
    }

    [Fact]
    public async Task CrashedSave_LeavesOrphans_ThatTheNextProcessCollectsAfterTheGracePeriod()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Ckpt.Start);
        var inner = new InMemoryInputStateStore(time);
        var store = new FaultInjectingInputStateStore(inner);
        using (CheckpointManager crashed = Ckpt.Manager(store, time: time))
        {
            await crashed.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
            store.Arm(Fault.Crash.When(c => c.Key == Ckpt.StateFile));
            await Assert.ThrowsAsync<CheckpointStoreException>(() => crashed.SaveAsync(20, Ckpt.Bytes(("a", B1), ("b", B2))));
        }

        string[] orphans = [.. inner.Keys.Where(k => k.StartsWith("input.ckpt-20.", StringComparison.Ordinal))];
        Assert.Equal(3, orphans.Length);
        time.Advance(TimeSpan.FromHours(2));

        using CheckpointManager restarted = Ckpt.Manager(inner, time: time);
        await restarted.SaveAsync(30, Ckpt.Bytes(("a", C1), ("b", C2)));

        Assert.DoesNotContain(inner.Keys, k => orphans.Contains(k));
        Assert.Equal([30L, 10L], (await restarted.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task Hook_LogAndContinue_KeepsTraining_CountsFailures_AndSavesAtTheNextTrigger()
    {
        var inner = new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(inner);
        using var logs = new ListLoggerProvider();
        await using var hook = new CheckpointInputPipelineHook(
            store,
            new CheckpointInputPipelineHookOptions { SaveSteps = 5, KeepMax = 100, OnSaveFailure = SaveFailurePolicy.LogAndContinue },
            logs.CreateFactory());
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        // Every write of the saves at steps 5 and 10 fails.
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.StartsWith("input.ckpt-5.", StringComparison.Ordinal)));
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.StartsWith("input.ckpt-10.", StringComparison.Ordinal)));
        long reached = await Ckpt.RunAsync(session, iterator, [hook], lastStep: 17);

        Assert.Equal(17, reached);
        Assert.Equal(2, hook.FailedSaveCount);
        Assert.IsType<CheckpointStoreException>(hook.LastSaveFailure);
        Assert.Equal([17L, 15L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal(2, logs.Entries.Count(e => e.EventId.Id == 1103));
    }

    [Fact]
    public async Task Hook_ThrowPolicy_ThrowsFromAfterRun()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        await using var hook = new CheckpointInputPipelineHook(
            store,
            new CheckpointInputPipelineHookOptions { SaveSteps = 2, OnSaveFailure = SaveFailurePolicy.Throw, SaveInBackground = false });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.AfterCreateSessionAsync(session);
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        session.GlobalStep = 1;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));

        store.Arm(Fault.Fail);
        session.GlobalStep = 2;
        await Assert.ThrowsAsync<CheckpointStoreException>(async () => await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start)));
        Assert.Equal(1, hook.FailedSaveCount);
    }

    [Fact]
    public async Task Hook_ThrowPolicy_WithBackgroundSaving_ThrowsFromTheNextCall()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        await using var hook = new CheckpointInputPipelineHook(
            store,
            new CheckpointInputPipelineHookOptions { SaveSteps = 1, OnSaveFailure = SaveFailurePolicy.Throw, SaveInBackground = true });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.AfterCreateSessionAsync(session);
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        store.Arm(Fault.Fail);
        session.GlobalStep = 1;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        session.GlobalStep = 2;

        await Assert.ThrowsAsync<CheckpointStoreException>(async () => await hook.EndAsync(session));
    }

    [Fact]
    public async Task Hook_ThrowPolicy_ThrowsFromEnd()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        await using var hook = new CheckpointInputPipelineHook(
            store,
            new CheckpointInputPipelineHookOptions { SaveSteps = 100, OnSaveFailure = SaveFailurePolicy.Throw });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.AfterCreateSessionAsync(session);
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        session.GlobalStep = 3;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));

        store.Arm(Fault.Crash);
        await Assert.ThrowsAsync<CheckpointStoreException>(async () => await hook.EndAsync(session));
    }

    [Fact]
    public async Task Hook_LogAndContinue_EndRetriesAFinalSaveThatFailedAtTheSameStep()
    {
        // A save at the last step that failed is not "the last save at this step": End must still leave a
        // checkpoint at the final step, or a restarted job replays steps.
        var inner = new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(inner);
        await using var hook = new CheckpointInputPipelineHook(
            store,
            new CheckpointInputPipelineHookOptions { SaveSteps = 2, SaveInBackground = false, OnSaveFailure = SaveFailurePolicy.LogAndContinue });
        var session = new FakeSession();
        session.Iterators.Add("iterator", new CountingIterator());
        await hook.AfterCreateSessionAsync(session);
        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));
        session.GlobalStep = 1;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        store.Arm(Fault.Fail);
        session.GlobalStep = 2;
        await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        Assert.Equal(1, hook.FailedSaveCount);

        await hook.EndAsync(session);

        Assert.Equal(2, (await Ckpt.ReadStateFileAsync(inner)).Latest!.Step);
        Assert.Equal(2, hook.LastCommittedStep);
    }

    public void Dispose() => _dir.Dispose();

    private static async Task<(FaultInjectingInputStateStore Store, IInputStateStore Inner, CheckpointManager Manager)> SetupAsync(string scenario, string localRoot)
    {
        IInputStateStore inner = scenario.StartsWith("local-", StringComparison.Ordinal) ? new LocalInputStateStore(localRoot) : new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(inner);
        CheckpointManager manager;
        switch (scenario)
        {
            case "keep5":
                manager = Ckpt.Manager(store);
                await manager.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
                break;
            case "keep1-collect":
            case "local-keep1-collect":
                manager = Ckpt.Manager(store, keepMax: 1, collectionInterval: 1);
                await manager.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
                break;
            case "fresh-writer":
                using (CheckpointManager previous = Ckpt.Manager(store))
                {
                    await previous.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
                }

                manager = Ckpt.Manager(store);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(scenario));
        }

        return (store, inner, manager);
    }

    private static async Task StartAsync(CheckpointManager manager, CancellationToken cancellationToken)
    {
        await manager.ClaimAsync(cancellationToken);
        var a = new BlobState([]);
        var b = new BlobState([]);
        CheckpointReference? restored = await manager.RestoreLatestAsync(Ckpt.Targets(("a", a), ("b", b)), cancellationToken);
        Assert.Equal(10, restored?.Step);
        Assert.Equal(A1, a.Data);
        Assert.Equal(A2, b.Data);
    }

    private static async Task<IReadOnlyList<StoreCall>> CountStartCallsAsync()
    {
        var inner = new InMemoryInputStateStore();
        using (CheckpointManager old = Ckpt.Manager(inner))
        {
            await old.SaveAsync(10, Ckpt.Bytes(("a", A1), ("b", A2)));
        }

        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager starting = Ckpt.Manager(store);
        await StartAsync(starting, CancellationToken.None);
        return store.Calls;
    }

    private static async Task<IReadOnlyList<StoreCall>> CountSecondSaveCallsAsync(string scenario)
    {
        using var dir = new TempDirectory("hook-faults-count");
        (FaultInjectingInputStateStore store, _, CheckpointManager manager) = await SetupAsync(scenario, dir.Combine("store"));
        using (manager)
        {
            int baseline = store.CallCount;
            await manager.SaveAsync(20, Ckpt.Bytes(("a", B1), ("b", B2)));
            return [.. store.Calls.Skip(baseline)];
        }
    }
}
