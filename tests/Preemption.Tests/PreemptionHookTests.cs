using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Tests;

/// <summary>The hook stops training at the step boundary after a preemption request, the end saves there, and a restart replays nothing.</summary>
public sealed class PreemptionHookTests
{
    private static RunConfig Config(IInputStateStore store) => new() { Store = store, SaveCheckpointsSteps = 50 };

    private static Estimator<long> NewEstimator(RecordingModel model, IInputStateStore store) => new(model, Config(store));

    [Fact]
    public async Task APreemptionDuringAStep_StopsAfterThatStep_AndEndSavesThere()
    {
        var store = new InMemoryInputStateStore();
        var logs = new LogCollector();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        using var monitor = new PreemptionMonitor(loggers.CreateLogger<PreemptionMonitor>());
        var hook = new PreemptionHook(monitor, loggers.CreateLogger<PreemptionHook>());
        var checkpoints = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 50 });
        await using (checkpoints)
        {
            var session = new TrainingSession();
            var iterator = new CountingIterator();
            session.Iterators.Add("iterator", iterator);

            long reached = await new MonitoredTrainingSession(session, [checkpoints, hook]).RunAsync(
                async (context, ct) =>
                {
                    await iterator.MoveNextAsync(ct);
                    if (context.GlobalStep == 6)
                    {
                        monitor.RequestPreemption(PreemptionReason.HostStopping, "SIGTERM");
                    }

                    return true;
                },
                lastStep: 1000);

            Assert.Equal(7, reached); // the step under way (the 7th) finished, then the session stopped
            Assert.Equal(7, hook.StopRequestedAtStep);
            Assert.Equal(7, checkpoints.LastCommittedStep); // not a scheduled save (every 50): the end saved at the stop
            Assert.Equal(7, iterator.Position);
            IReadOnlyList<CheckpointReference> retained = await checkpoints.Manager.ListCheckpointsAsync();
            Assert.Equal(new long[] { 0, 7 }, retained.Select(c => c.Step).Order().ToArray());
        }

        LogEntry stopping = Assert.Single(logs.WithId(3010));
        Assert.Equal(LogLevel.Information, stopping.Level);
        Assert.Contains("HostStopping", stopping.Message, StringComparison.Ordinal);
        Assert.Contains("after global step 7", stopping.Message, StringComparison.Ordinal);
        Assert.Single(logs.WithId(3011));
        Assert.True(monitor.IsAcknowledged);
    }

    [Fact]
    public async Task WithoutAPreemption_TheHookDoesNothing()
    {
        using var monitor = new PreemptionMonitor();
        var hook = new PreemptionHook(monitor);
        var session = new TrainingSession();

        long reached = await new MonitoredTrainingSession(session, [hook]).RunAsync((_, _) => ValueTask.FromResult(true), lastStep: 25);

        Assert.Equal(25, reached);
        Assert.Null(hook.StopRequestedAtStep);
        Assert.False(monitor.IsAcknowledged);
    }

    [Fact]
    public async Task APreemptedEstimatorRun_ThenARestart_ReplaysZeroSteps_AndSeesTheSameBatches()
    {
        const long Steps = 120;
        var uninterruptedModel = new RecordingModel();
        using (Estimator<long> reference = NewEstimator(uninterruptedModel, new InMemoryInputStateStore()))
        {
            await reference.TrainAsync(() => new CountingIterator(), hooks: [new CheckpointInputPipelineHook(reference)], maxSteps: Steps);
        }

        var store = new InMemoryInputStateStore();
        using var monitor = new PreemptionMonitor();
        var firstModel = new RecordingModel { OnStep = step => { if (step == 37) { monitor.RequestPreemption(PreemptionReason.GcePreempted); } return Task.CompletedTask; } };
        long stoppedAt;
        using (Estimator<long> first = NewEstimator(firstModel, store))
        {
            await using var inputHook = new CheckpointInputPipelineHook(first);
            stoppedAt = await first.TrainAsync(() => new CountingIterator(), hooks: [inputHook, new PreemptionHook(monitor)], maxSteps: Steps);
        }

        Assert.Equal(37, stoppedAt);
        var secondModel = new RecordingModel();
        using (Estimator<long> second = NewEstimator(secondModel, store))
        {
            await using var inputHook = new CheckpointInputPipelineHook(second);
            using var freshMonitor = new PreemptionMonitor();
            Assert.Equal(Steps, await second.TrainAsync(() => new CountingIterator(), hooks: [inputHook, new PreemptionHook(freshMonitor)], maxSteps: Steps));
        }

        Assert.Equal(38, secondModel.Trained[0].Step); // resumed right after the stop: no step ran twice
        List<(long Step, long Batch)> both = [.. firstModel.Trained, .. secondModel.Trained];
        Assert.Equal(uninterruptedModel.Trained, both);
    }
}
