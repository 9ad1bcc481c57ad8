using InputPipeline.Checkpointing.Hosting;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>A training loop with the hook on the Azure Blob store keeps running when the store goes down mid-run.</summary>
[Collection(AzuriteDefinition.Name)]
[Trait("Provider", "AzureBlob")]
public sealed class TrainingLoopTests
{
    [Fact]
    public async Task WhenAzuriteGoesDownMidRun_TheLoopKeepsRunning_AndTheFailedSavesAreCounted()
    {
        // A dedicated emulator: this test stops it.
        AzuriteInstance azurite = await AzuriteInstance.StartAsync();
        try
        {
            var store = new AzureBlobInputStateStore(TestOptions.For(azurite.ConnectionString, "training", o =>
            {
                o.CreateContainerIfMissing = true;
                o.MaxRetries = 1;
                o.RetryDelay = TimeSpan.FromMilliseconds(1);
                o.MaxRetryDelay = TimeSpan.FromMilliseconds(5);
                o.NetworkTimeout = TimeSpan.FromSeconds(5);
            }));
            await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions
            {
                SaveSteps = 2,
                OnSaveFailure = SaveFailurePolicy.LogAndContinue,
            });
            var iterator = new CounterIterator();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            var steps = new List<long>();

            long reached = await new MonitoredTrainingSession(session, [hook]).RunAsync(
                async (context, _) =>
                {
                    if (context.GlobalStep == 10)
                    {
                        await azurite.DisposeAsync(); // the store goes down between two steps
                    }

                    iterator.Next();
                    steps.Add(context.GlobalStep);
                    return true;
                },
                lastStep: 30);

            Assert.Equal(30, reached);
            Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), steps);
            Assert.Equal(30, iterator.Position);
            Assert.True(hook.FailedSaveCount > 0, "no save failed");
            Assert.IsType<CheckpointStoreException>(hook.LastSaveFailure);
            Assert.InRange(hook.LastCommittedStep ?? -1, 0, 10);
        }
        finally
        {
            await azurite.DisposeAsync();
        }
    }
}
