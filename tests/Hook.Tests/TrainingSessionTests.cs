using InputPipeline.Checkpointing.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Tests;

public sealed class TrainingSessionTests
{
    [Fact]
    public async Task HooksAreCalledInLifecycleOrder_AndInTheOrderGiven()
    {
        var log = new List<string>();
        var session = new TrainingSession(3);
        var monitored = new MonitoredTrainingSession(session, [new RecordingHook("a", log), new RecordingHook("b", log)]);

        long reached = await monitored.RunAsync(
            (context, _) =>
            {
                log.Add($"step@{context.GlobalStep}");
                return ValueTask.FromResult(true);
            },
            lastStep: 5);

        Assert.Equal(5, reached);
        Assert.Equal(
            [
                "a.Begin", "b.Begin",
                "a.AfterCreateSession@3", "b.AfterCreateSession@3",
                "a.BeforeRun@3", "b.BeforeRun@3", "step@3", "a.AfterRun@4", "b.AfterRun@4",
                "a.BeforeRun@4", "b.BeforeRun@4", "step@4", "a.AfterRun@5", "b.AfterRun@5",
                "a.End@5", "b.End@5",
            ],
            log);
    }

    [Fact]
    public async Task StopRequestedInAfterRun_EndsTheLoop_AndEndIsCalled()
    {
        var log = new List<string>();
        var session = new TrainingSession();
        var stopper = new RecordingHook("stopper", log) { RequestStopAfterStep = 2 };
        var other = new RecordingHook("other", log);
        int steps = 0;

        long reached = await new MonitoredTrainingSession(session, [stopper, other]).RunAsync(
            (_, _) =>
            {
                steps++;
                return ValueTask.FromResult(true);
            });

        Assert.Equal(2, reached);
        Assert.Equal(2, steps);
        Assert.Equal(["stopper.End@2", "other.End@2"], log.Where(l => l.Contains(".End", StringComparison.Ordinal)));
        Assert.Contains("other.AfterRun@2", log);
    }

    [Fact]
    public async Task StopRequestedInBeforeRun_FinishesTheStep_ThenEnds()
    {
        var log = new List<string>();
        var session = new TrainingSession();
        var monitored = new MonitoredTrainingSession(session, [new StopInBeforeRunHook(), new RecordingHook("r", log)]);

        long reached = await monitored.RunAsync((_, _) => ValueTask.FromResult(true), lastStep: 100);

        Assert.Equal(1, reached);
        Assert.Equal(["r.Begin", "r.AfterCreateSession@0", "r.BeforeRun@0", "r.AfterRun@1", "r.End@1"], log);
    }

    [Fact]
    public async Task ThrowingStep_DoesNotCallEnd_AndPropagates()
    {
        var log = new List<string>();
        var session = new TrainingSession();
        var monitored = new MonitoredTrainingSession(session, [new RecordingHook("h", log)]);

        InvalidOperationException ex = await Assert.ThrowsAsync<InvalidOperationException>(() => monitored.RunAsync(
            (context, _) => context.GlobalStep == 2 ? throw new InvalidOperationException("boom") : ValueTask.FromResult(true),
            lastStep: 10));

        Assert.Equal("boom", ex.Message);
        Assert.Equal(2, session.GlobalStep);
        Assert.DoesNotContain(log, l => l.Contains(".End", StringComparison.Ordinal));
        Assert.Equal("h.BeforeRun@2", log[^1]);
    }

    [Fact]
    public async Task ThrowingHook_DoesNotCallEnd_AndPropagates()
    {
        var log = new List<string>();
        var session = new TrainingSession();
        var monitored = new MonitoredTrainingSession(session, [new RecordingHook("a", log) { ThrowInAfterRunAtStep = 3 }, new RecordingHook("b", log)]);

        await Assert.ThrowsAsync<InvalidOperationException>(() => monitored.RunAsync((_, _) => ValueTask.FromResult(true), lastStep: 10));

        Assert.Equal("a.AfterRun@3", log[^1]);
        Assert.DoesNotContain(log, l => l.Contains(".End", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InputExhaustion_EndsNormally_WithoutCountingTheMissingStep()
    {
        var log = new List<string>();
        var session = new TrainingSession();
        var iterator = new CountingIterator(limit: 3);

        long reached = await Ckpt.RunAsync(session, iterator, [new RecordingHook("h", log)], lastStep: null);

        Assert.Equal(3, reached);
        Assert.Equal(3, session.GlobalStep);
        Assert.Equal("h.End@3", log[^1]);
        Assert.Equal("h.BeforeRun@3", log[^2]);
    }

    [Fact]
    public async Task AlreadyAtTheLastStep_RunsNoStep_ButCallsBeginCreateAndEnd()
    {
        var log = new List<string>();
        var session = new TrainingSession(5);
        int steps = 0;

        await new MonitoredTrainingSession(session, [new RecordingHook("h", log)]).RunAsync(
            (_, _) =>
            {
                steps++;
                return ValueTask.FromResult(true);
            },
            lastStep: 5);

        Assert.Equal(0, steps);
        Assert.Equal(["h.Begin", "h.AfterCreateSession@5", "h.End@5"], log);
    }

    [Fact]
    public async Task Cancellation_StopsTheRun_WithoutCallingEnd()
    {
        var log = new List<string>();
        var session = new TrainingSession();
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new MonitoredTrainingSession(session, [new RecordingHook("h", log)]).RunAsync(
            (context, _) =>
            {
                if (context.GlobalStep == 4)
                {
                    cts.Cancel();
                }

                return ValueTask.FromResult(true);
            },
            cancellationToken: cts.Token));

        Assert.Equal(5, session.GlobalStep);
        Assert.DoesNotContain(log, l => l.Contains(".End", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryHookSeesTheSameTimestampForOneBoundary_FromTheInjectedClock()
    {
        var time = new FakeTimeProvider(Ckpt.Start);
        var log = new List<string>();
        var a = new RecordingHook("a", log);
        var b = new RecordingHook("b", log);

        await new MonitoredTrainingSession(new TrainingSession(), [a, b], time).RunAsync(
            (_, _) =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                return ValueTask.FromResult(true);
            },
            lastStep: 3);

        Assert.Equal(a.Timestamps, b.Timestamps);
        Assert.Equal(
            [Ckpt.Start, Ckpt.Start.AddSeconds(1), Ckpt.Start.AddSeconds(1), Ckpt.Start.AddSeconds(2), Ckpt.Start.AddSeconds(2), Ckpt.Start.AddSeconds(3)],
            a.Timestamps);
    }

    [Fact]
    public void Arguments_AreChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingSession(-1));
        Assert.Throws<ArgumentNullException>(() => new MonitoredTrainingSession(null!, []));
        Assert.Throws<ArgumentNullException>(() => new MonitoredTrainingSession(new TrainingSession(), null!));
        Assert.Throws<ArgumentNullException>(() => new MonitoredTrainingSession(new TrainingSession(), [null!]));
        Assert.Throws<ArgumentNullException>(() => new SessionRunContext(null!, Ckpt.Start));
    }

    [Fact]
    public async Task CheckpointHook_InsideAMonitoredSession_IsCalledAfterEveryHooksAfterCreateSession()
    {
        var store = new InputPipeline.Checkpointing.Testing.InMemoryInputStateStore();
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1 });
        var session = new TrainingSession();
        var iterator = new CountingIterator();

        // A hook placed after the checkpoint hook registers the iterator in AfterCreateSession: the checkpoint hook still sees it on its first BeforeRun.
        await Ckpt.RunAsync(session, iterator, [hook, new RegisteringHook("iterator", iterator)], lastStep: 2);

        Assert.Equal([2L, 1L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal("iterator", Assert.Single((await Ckpt.ReadManifestAsync(store, state.Checkpoints[^1].ManifestKey)).Parts).Name);
    }

    private sealed class StopInBeforeRunHook : SessionRunHook
    {
        public override ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            context.RequestStop();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class RegisteringHook(string name, ICheckpointable item) : SessionRunHook
    {
        public override ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default)
        {
            session.Iterators.Add(name, item);
            return ValueTask.CompletedTask;
        }
    }
}
