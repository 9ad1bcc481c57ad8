using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.S3.Tests;

/// <summary>The hook on the S3 store, through an outage: training goes on and the committed checkpoints stay.</summary>
[Trait("Provider", "S3")]
[Collection(MotoGroup.Name)]
public sealed class TrainingLoopTests(MotoFixture moto)
{
    [Fact]
    public async Task TheTrainingLoopKeepsRunning_WhenTheStoreBecomesUnreachableMidRun()
    {
        S3InputStateStore live = moto.CreateStore(moto.Options(await moto.BucketAsync("training"), prefix: $"loop-{Guid.NewGuid():N}"));
        S3StoreOptions downOptions = moto.Options("ipc-down");
        downOptions.ServiceUrl = new Uri($"http://127.0.0.1:{FreePort.Get()}/"); // nothing listens there
        downOptions.MaxErrorRetry = 1;
        S3InputStateStore down = moto.CreateStore(downOptions);
        var store = new SwitchableStore(live);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2, OnSaveFailure = SaveFailurePolicy.LogAndContinue });
        var iterator = new CounterIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        var stepsRun = new List<long>();

        long reached = await new MonitoredTrainingSession(session, [hook]).RunAsync(
            (context, _) =>
            {
                iterator.Position++;
                stepsRun.Add(context.GlobalStep);
                if (context.GlobalStep == 6)
                {
                    store.Current = down; // the store becomes unreachable after the save at step 6 was triggered
                }

                return ValueTask.FromResult(true);
            },
            lastStep: 20);

        Assert.Equal(20, reached);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), stepsRun);
        Assert.Equal(20, iterator.Position);
        Assert.True(hook.FailedSaveCount > 0, "saves after the outage should have failed");
        Assert.IsType<CheckpointStoreException>(hook.LastSaveFailure);

        // What was committed before the outage is intact and restorable from the real store.
        using var manager = new CheckpointManager(live, new CheckpointManagerOptions { Chain = hook.Chain });
        var restored = new CounterIterator();
        CheckpointReference? latest = await manager.RestoreLatestAsync([new KeyValuePair<string, ICheckpointable>("iterator", restored)]);
        Assert.NotNull(latest);
        Assert.InRange(latest.Step, 4, 6);
        Assert.Equal(latest.Step, restored.Position);
    }
}
