using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Preemption;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// <see cref="JobProgress"/> in-process, on a fake clock: the numbers of the status line come from the steps it sees and
/// the commits and failures the checkpoint managers report, and its verdict on a run is what the store holds.
/// </summary>
public sealed class JobProgressTests
{
    private static readonly TimeSpan StepTime = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task TheStatusLine_ShowsStepSpeedCheckpointAgeAndFailedSaves()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore(_time));
        await using var input = Hook(store, saveSteps: 4);
        var progress = new JobProgress(targetStep: 20, _time);
        progress.Watch(input.Manager);
        JobProgressSnapshot? atStep10 = null;
        var session = new TrainingSession();
        session.Iterators.Add("it", new CountingIterator());
        var failFrom6 = new ArmAt(6, () => store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write).Repeatedly()));
        var look = new ArmAt(10, () => atStep10 = progress.GetSnapshot());
        var monitored = new MonitoredTrainingSession(session, [input, failFrom6, progress, look], _time);

        long reached = await monitored.RunAsync(
            (_, _) =>
            {
                _time.Advance(StepTime);
                return ValueTask.FromResult(true);
            },
            lastStep: 20);

        Assert.NotNull(atStep10);
        Assert.Equal(JobPhase.Training, atStep10.Phase);
        Assert.Equal(10, atStep10.Step);
        Assert.Equal(10.0, atStep10.StepsPerSecond!.Value, precision: 6); // one step per 100 ms of the fake clock
        Assert.Equal(4, atStep10.CheckpointStep); // the save at step 8 failed
        Assert.Equal(TimeSpan.FromMilliseconds(600), atStep10.CheckpointAge); // taken after step 4, six steps ago
        Assert.Equal(1, atStep10.FailedSaves);
        Assert.Equal("step 10/20 · 10.0 steps/s · checkpoint 4, just now · 1 failed save", atStep10.ToStatusLine());

        JobProgressSnapshot end = progress.GetSnapshot();
        Assert.Equal(20, reached);
        Assert.Equal(JobPhase.Ended, end.Phase);
        Assert.Equal(4, end.CheckpointStep);
        Assert.Equal(5, end.FailedSaves); // 8, 12, 16, 20 and the final retry of 20
        Assert.Equal(4, progress.CommittedEverywhere());
    }

    [Fact]
    public async Task AFinalCheckpointThatCommits_IsDone()
    {
        var store = new InMemoryInputStateStore(_time);
        await using var input = Hook(store, saveSteps: 5);
        var progress = new JobProgress(targetStep: 12, _time);
        progress.Watch(input.Manager);

        long reached = await RunAsync([input, progress], lastStep: 12);
        JobResult result = await progress.FinishAsync(reached, stopReason: null);

        Assert.Equal(new JobResult(JobExitCodes.Done, "Reached global step 12 of 12; the checkpoint at step 12 is committed."), result);
    }

    [Fact]
    public async Task AFinalCheckpointThatFails_Is5_NamingTheChainTheCauseAndTheResumeStep()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore(_time));
        await using var model = Hook(store, saveSteps: 5, chain: "model");
        await using var input = Hook(store, saveSteps: 5);
        var progress = new JobProgress(targetStep: 12, _time);
        progress.Watch(model.Manager);
        progress.Watch(input.Manager);
        var failAfter5 = new ArmAt(5, () => store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write).Repeatedly()));

        long reached = await RunAsync([model, input, failAfter5, progress], lastStep: 12);
        JobResult result = await progress.FinishAsync(reached, stopReason: null);

        Assert.Equal(JobExitCodes.FinalCheckpointNotCommitted, result.ExitCode);
        Assert.StartsWith("Reached global step 12 of 12, but the checkpoint at step 12 did not commit (model: InMemory store, key \"model.ckpt-12.", result.Message, StringComparison.Ordinal);
        Assert.Contains("Injected fault", result.Message, StringComparison.Ordinal);
        Assert.EndsWith("). A restart resumes from step 5 and repeats 7 steps.", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACommonStepThatDoesNotVerify_IsPassedOver_TheResumeStepIsTheNewestSoundOne()
    {
        var memory = new InMemoryInputStateStore(_time);
        var store = new FaultInjectingInputStateStore(memory);
        await using var model = Hook(store, saveSteps: 5, chain: "model");
        await using var input = Hook(store, saveSteps: 5);
        var progress = new JobProgress(targetStep: 12, _time);
        progress.Watch(model.Manager);
        progress.Watch(input.Manager);
        var failAfter10 = new ArmAt(10, () => store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write).Repeatedly()));
        long reached = await RunAsync([model, input, failAfter10, progress], lastStep: 12);

        // Both chains committed step 10, but the model chain's part there has since been damaged (one byte flipped): a
        // restart falls back to step 5, so the verdict must say 5, not 10.
        string part = Assert.Single(memory.Keys, k => k.StartsWith("model.ckpt-10.", StringComparison.Ordinal) && k.EndsWith(".part", StringComparison.Ordinal));
        byte[] bytes;
        await using (StoreReadResult read = (await memory.ReadAsync(part))!)
        {
            using var copy = new MemoryStream();
            await read.Content.CopyToAsync(copy);
            bytes = copy.ToArray();
        }

        bytes[0] ^= 0x5A;
        await memory.WriteAsync(part, new MemoryStream(bytes), WriteCondition.None);
        JobResult result = await progress.FinishAsync(reached, stopReason: null);

        Assert.Equal(10, progress.CommittedEverywhere()); // what this process saw committed
        Assert.Equal(JobExitCodes.FinalCheckpointNotCommitted, result.ExitCode);
        Assert.EndsWith("A restart resumes from step 5 and repeats 7 steps (the checkpoints at step 10 do not verify).", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChainsWithNoCommonStep_CannotResume_AndTheMessageListsTheirSteps()
    {
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore(_time));
        await using var model = Hook(store, saveSteps: 1, chain: "model", keepMax: 2);
        await using var input = Hook(store, saveSteps: 1);
        var progress = new JobProgress(targetStep: 6, _time);
        progress.Watch(model.Manager);
        progress.Watch(input.Manager);

        // From step 2 on only the input chain's writes fail: the model chain goes on committing, and its retention
        // (KeepMax 2) drops every step the input chain holds.
        var inputFails = new ArmAt(2, () => store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.Contains("input", StringComparison.Ordinal)).Repeatedly()));
        long reached = await RunAsync([model, input, inputFails, progress], lastStep: 6);
        JobResult result = await progress.FinishAsync(reached, stopReason: null);

        Assert.Equal(JobExitCodes.FinalCheckpointNotCommitted, result.ExitCode);
        Assert.EndsWith("A restart cannot resume: no step is committed in every chain (model: 6, 5; input: 2, 1, 0).", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStopRequest_ShowsWhatTheJobIsDoing_AndTheOutcomeNamesTheReason()
    {
        var store = new InMemoryInputStateStore(_time);
        await using var input = Hook(store, saveSteps: 100);
        using var monitor = new PreemptionMonitor(timeProvider: _time);
        var progress = new JobProgress(targetStep: 1000, _time);
        progress.Watch(input.Manager);
        progress.Watch(monitor);
        var preemption = new PreemptionHook(monitor);
        var seen = new List<string>();
        var requestAt7 = new ArmAt(7, () =>
        {
            // SIGTERM arrives while step 7 is under way: this hook runs before the progress hook has seen step 7.
            monitor.RequestPreemption(PreemptionReason.HostStopping);
            seen.Add(progress.GetSnapshot().ToStatusLine());
        });
        var afterProgress = new ArmAt(7, () => seen.Add(progress.GetSnapshot().ToStatusLine()));

        long reached = await RunAsync([input, requestAt7, progress, afterProgress, preemption], lastStep: 1000);
        JobResult result = await progress.FinishAsync(reached, monitor.Notice?.Reason);

        Assert.Equal(7, reached);
        Assert.StartsWith("step 6/1000 · stop requested (HostStopping): finishing the step under way · ", seen[0], StringComparison.Ordinal);
        Assert.StartsWith("step 7/1000 · stop requested (HostStopping): saving at step 7 before stopping · ", seen[1], StringComparison.Ordinal);
        Assert.Equal(new JobResult(JobExitCodes.Done, "Stopped at global step 7 of 1000 after a stop request (HostStopping); the checkpoint at step 7 is committed."), result);
    }

    [Fact]
    public async Task ARunThatHadNothingToDo_AsksTheStore()
    {
        var store = new InMemoryInputStateStore(_time);
        await using (var first = Hook(store, saveSteps: 5))
        {
            await RunAsync([first], lastStep: 10);
        }

        await using var input = Hook(store, saveSteps: 5);
        var progress = new JobProgress(targetStep: 10, _time);
        progress.Watch(input.Manager);

        Assert.Equal(new JobResult(JobExitCodes.Done, "Reached global step 10 of 10; the checkpoint at step 10 is committed."), await progress.FinishAsync(10, stopReason: null));
        Assert.Equal(JobExitCodes.FinalCheckpointNotCommitted, (await progress.FinishAsync(11, stopReason: null)).ExitCode);

        var empty = new JobProgress(targetStep: 0, _time);
        await using var fresh = Hook(new InMemoryInputStateStore(_time), saveSteps: 5);
        empty.Watch(fresh.Manager);
        Assert.Equal(new JobResult(JobExitCodes.Done, "Reached global step 0 of 0: nothing to train, and nothing to save."), await empty.FinishAsync(0, stopReason: null));
    }

    [Fact]
    public void WatchingAChainTwice_IsAnError()
    {
        using var manager = new CheckpointManager(new InMemoryInputStateStore(), new CheckpointManagerOptions { Chain = "input" });
        var progress = new JobProgress(1);
        progress.Watch(manager);

        Assert.Throws<InvalidOperationException>(() => progress.Watch(manager));
        Assert.Throws<ArgumentOutOfRangeException>(() => new JobProgress(-1));
    }

    [Theory]
    [InlineData(JobPhase.Starting, null, null, null, null, 0L, "step ?/400 · starting: resuming from the last checkpoint · no checkpoint yet · 0 failed saves")]
    [InlineData(JobPhase.Training, 120L, null, 100L, 75.0, 2L, "step 120/400 · measuring speed · checkpoint 100, 75 s ago · 2 failed saves")]
    [InlineData(JobPhase.Training, 120L, 0.5, 100L, 300.0, 1L, "step 120/400 · 0.5 steps/s · checkpoint 100, 5 min ago · 1 failed save")]
    [InlineData(JobPhase.Training, 120L, 48.25, 100L, 7500.0, 0L, "step 120/400 · 48.3 steps/s · checkpoint 100, 2.1 h ago · 0 failed saves")]
    [InlineData(JobPhase.Finishing, 400L, 48.0, 380L, 3.0, 0L, "step 400/400 · saving the final checkpoint at step 400 · checkpoint 380, 3 s ago · 0 failed saves")]
    [InlineData(JobPhase.Ended, 400L, null, 400L, 0.2, 0L, "step 400/400 · stopped · checkpoint 400, just now · 0 failed saves")]
    public void TheStatusLine_ReadsWell(JobPhase phase, long? step, double? rate, long? checkpoint, double? ageSeconds, long failed, string expected)
    {
        var snapshot = new JobProgressSnapshot(phase, step, 400, rate, checkpoint, ageSeconds is { } s ? TimeSpan.FromSeconds(s) : null, failed, null, phase == JobPhase.Finishing ? step : null);

        Assert.Equal(expected, snapshot.ToStatusLine());
    }

    private CheckpointInputPipelineHook Hook(IInputStateStore store, int saveSteps, string chain = "input", int keepMax = 5)
    {
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = saveSteps, SaveInBackground = false, KeepMax = keepMax };
        return chain == "input"
            ? new CheckpointInputPipelineHook(store, options, timeProvider: _time)
            : new CheckpointInputPipelineHook(options, store: null, new CheckpointManager(store, new CheckpointManagerOptions { Chain = chain, KeepMax = keepMax }, timeProvider: _time), timeProvider: _time);
    }

    private async Task<long> RunAsync(IReadOnlyList<ISessionRunHook> hooks, long lastStep)
    {
        var session = new TrainingSession();
        session.Iterators.Add("it", new CountingIterator());
        var monitored = new MonitoredTrainingSession(session, hooks, _time);
        return await monitored.RunAsync(
            (_, _) =>
            {
                _time.Advance(StepTime);
                return ValueTask.FromResult(true);
            },
            lastStep);
    }

    /// <summary>Runs an action once, after the given step.</summary>
    private sealed class ArmAt(long step, Action action) : SessionRunHook
    {
        public override ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            if (context.GlobalStep == step)
            {
                action();
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>An endless counting iterator whose state is its position.</summary>
    private sealed class CountingIterator : ICheckpointableIterator<long>
    {
        private long _position;

        public long Current { get; private set; }

        public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
        {
            Current = _position++;
            return ValueTask.FromResult(true);
        }

        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.FromBytes(BitConverter.GetBytes(_position));

        public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
        {
            byte[] buffer = new byte[8];
            await state.ReadExactlyAsync(buffer, cancellationToken);
            _position = BitConverter.ToInt64(buffer);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
