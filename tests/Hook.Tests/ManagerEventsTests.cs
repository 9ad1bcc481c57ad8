using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Tests;

/// <summary><see cref="CheckpointManager.Committed"/> and <see cref="CheckpointManager.SaveFailed"/>: one event per save, with its outcome.</summary>
public sealed class ManagerEventsTests
{
    [Fact]
    public async Task ACommittedSave_RaisesCommittedOnce_WithTheReferenceSaveAsyncReturns()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        var committed = new List<(object? Sender, CheckpointCommittedEventArgs Args)>();
        var failed = new List<CheckpointSaveFailedEventArgs>();
        manager.Committed += (sender, e) => committed.Add((sender, e));
        manager.SaveFailed += (_, e) => failed.Add(e);

        CheckpointReference first = await manager.SaveAsync(4, Ckpt.Bytes(("a", [1])));
        CheckpointReference second = await manager.SaveAsync(8, Ckpt.Bytes(("a", [2])));

        Assert.Equal([first, second], committed.Select(c => c.Args.Checkpoint));
        Assert.All(committed, c => Assert.Same(manager, c.Sender));
        Assert.All(committed, c => Assert.Equal("input", c.Args.Chain));
        Assert.Empty(failed);
    }

    [Fact]
    public async Task AFailedSave_RaisesSaveFailedWithTheStepAndTheException_ThenThrowsIt()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store, chain: "model");
        await manager.SaveAsync(0, Ckpt.Bytes(("a", [0])));
        var failed = new List<CheckpointSaveFailedEventArgs>();
        int committed = 0;
        manager.SaveFailed += (_, e) => failed.Add(e);
        manager.Committed += (_, _) => committed++;
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write));

        CheckpointStoreException thrown = await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(10, Ckpt.Bytes(("a", [1]))));

        CheckpointSaveFailedEventArgs args = Assert.Single(failed);
        Assert.Equal("model", args.Chain);
        Assert.Equal(10, args.Step);
        Assert.Same(thrown, args.Exception);
        Assert.Equal(0, committed);
    }

    [Fact]
    public async Task ASaveCancelledByItsCaller_IsNotAFailure()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using CheckpointManager manager = Ckpt.Manager(store);
        int events = 0;
        manager.SaveFailed += (_, _) => events++;
        manager.Committed += (_, _) => events++;
        store.Arm(Fault.Hang);
        using var cts = new CancellationTokenSource();

        Task save = manager.SaveAsync(1, Ckpt.Bytes(("a", [1])), cts.Token);
        await store.WaitForHangAsync();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => save);
        Assert.Equal(0, events);
    }

    [Fact]
    public async Task LosingOwnership_RaisesSaveFailedWithTheOwnershipException()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager first = Ckpt.Manager(store);
        using CheckpointManager second = Ckpt.Manager(store);
        await first.ListCheckpointsAsync();
        await second.ListCheckpointsAsync();
        var failed = new List<CheckpointSaveFailedEventArgs>();
        first.SaveFailed += (_, e) => failed.Add(e);
        second.SaveFailed += (_, e) => failed.Add(e);

        await first.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        Exception? lost = await Record.ExceptionAsync(() => second.SaveAsync(2, Ckpt.Bytes(("a", [2]))));
        if (lost is null)
        {
            // A protocol in which the newest writer wins fences the first one instead: its next save fails.
            lost = await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => first.SaveAsync(3, Ckpt.Bytes(("a", [3]))));
        }

        CheckpointSaveFailedEventArgs args = Assert.Single(failed);
        Assert.IsType<CheckpointOwnershipLostException>(args.Exception);
        Assert.Same(lost, args.Exception);
    }

    [Fact]
    public async Task AHandlerThatThrows_IsLogged_AndTheSaveStaysCommitted_AndLaterHandlersStillRun()
    {
        var logs = new ListLoggerProvider();
        using ILoggerFactory loggers = logs.CreateFactory();
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store, loggers: loggers);
        var seen = new List<long>();
        manager.Committed += (_, _) => throw new InvalidOperationException("a broken display");
        manager.Committed += (_, e) => seen.Add(e.Checkpoint.Step);

        CheckpointReference saved = await manager.SaveAsync(5, Ckpt.Bytes(("a", [5])));

        Assert.Equal(5, saved.Step);
        Assert.Equal([5L], seen);
        Assert.Equal(5, (await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        ListLoggerProvider.LogEntry entry = Assert.Single(logs.Entries, e => e.EventId.Id == 1030);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("Committed", entry.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(entry.Exception);
    }

    [Fact]
    public async Task AHandlerMayCallTheManager_ItRunsOutsideTheManagersLock()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);
        var listed = new List<long>();
        manager.Committed += (_, e) => listed.Add(manager.ListCheckpointsAsync().GetAwaiter().GetResult()[0].Step);

        Task save = manager.SaveAsync(3, Ckpt.Bytes(("a", [3])));

        Assert.Same(save, await Task.WhenAny(save, Task.Delay(TimeSpan.FromMinutes(1))));
        Assert.Equal([3L], listed);
    }

    [Fact]
    public async Task TheHooksSaves_AreReportedOnTheHooksManager_WithTheFailuresTheHookCounts()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2, SaveInBackground = false });
        var committed = new List<long>();
        var failed = new List<long>();
        hook.Manager.Committed += (_, e) => { lock (committed) { committed.Add(e.Checkpoint.Step); } };
        hook.Manager.SaveFailed += (_, e) => { lock (failed) { failed.Add(e.Step); } };
        var session = new TrainingSession();
        session.Iterators.Add("it", new CountingIterator());
        var failing = new FailWritesFromStepHook(store, fromStep: 5);
        var monitored = new MonitoredTrainingSession(session, [hook, failing]);

        await monitored.RunAsync((_, _) => ValueTask.FromResult(true), lastStep: 8);

        Assert.Equal([0L, 2, 4], committed.Order());
        Assert.Equal([6L, 8, 8], failed.Order()); // periodic at 6 and 8, then the final save retries 8
        Assert.Equal(3, hook.FailedSaveCount);
        Assert.Equal(4, hook.LastCommittedStep);
    }

    /// <summary>Makes every write fail once the session has passed <c>fromStep</c>.</summary>
    private sealed class FailWritesFromStepHook(FaultInjectingInputStateStore store, long fromStep) : SessionRunHook
    {
        public override ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            if (context.GlobalStep == fromStep)
            {
                store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write).Repeatedly());
            }

            return ValueTask.CompletedTask;
        }
    }
}
