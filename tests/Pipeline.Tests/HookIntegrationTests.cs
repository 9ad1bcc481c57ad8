using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>A pipeline iterator registered with a training session and checkpointed by the input-pipeline hook.</summary>
public sealed class HookIntegrationTests
{
    private static Dataset<long[]> Build() => Dataset.Range(0, 1_000).Shuffle(50, 21).Batch(4).Prefetch(3).Repeat();

    private static async Task<List<long[]>> TrainAsync(IInputStateStore store, long startStep, long lastStep, int saveSteps)
    {
        var batches = new List<long[]>();
        await using ICheckpointableIterator<long[]> iterator = Build().CreateIterator("train_input");
        var session = new TrainingSession(startStep);
        session.Iterators.Add("train_input", iterator);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = saveSteps, SaveInBackground = true });
        var run = new MonitoredTrainingSession(session, [hook]);
        await run.RunAsync(
            async (context, cancellationToken) =>
            {
                if (!await iterator.MoveNextAsync(cancellationToken))
                {
                    return false;
                }

                batches.Add(iterator.Current);
                return true;
            },
            lastStep);
        return batches;
    }

    [Fact]
    public async Task RestartedJob_ContinuesTheDataStreamExactly()
    {
        List<long[]> uninterrupted = await TrainAsync(new InMemoryInputStateStore(), 0, 40, saveSteps: 1000);

        var store = new InMemoryInputStateStore();
        List<long[]> first = await TrainAsync(store, 0, 17, saveSteps: 5);
        List<long[]> second = await TrainAsync(store, 17, 40, saveSteps: 5);

        Assert.Equal(17, first.Count);
        Assert.Equal(23, second.Count);
        Assert.Equal(uninterrupted, [.. first, .. second], PipelineTestKit.SequenceComparer<long>.Instance);
    }

    [Fact]
    public async Task PipelineBuiltDifferently_IsReportedByTheHook()
    {
        var store = new InMemoryInputStateStore();
        await TrainAsync(store, 0, 3, saveSteps: 1);

        await using ICheckpointableIterator<long> other = Dataset.Range(0, 10).CreateIterator("train_input");
        var session = new TrainingSession(3);
        session.Iterators.Add("train_input", other);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1 });
        var run = new MonitoredTrainingSession(session, [hook]);
        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => run.RunAsync((_, _) => ValueTask.FromResult(true), 5));
        Assert.Contains("prefetch", ex.Message, StringComparison.Ordinal);
    }
}
