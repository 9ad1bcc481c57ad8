using InputPipeline.Checkpointing.Testing;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>
/// Capturing a prefetching pipeline while its producer waits in the input (a slow network read) must not wait for that
/// read: the capture is taken on the training thread, between two steps.
/// </summary>
public sealed class PrefetchCaptureTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task CaptureWhileTheProducerWaitsInABlockedRead_DoesNotWaitForTheRead_AndTheStateResumesExactly()
    {
        var memory = new InMemoryInputStateStore();
        await memory.WriteAsync("data/a", new MemoryStream(Records(0, 3)), WriteCondition.None);
        await memory.WriteAsync("data/b", new MemoryStream(Records(100, 5)), WriteCondition.None);
        var store = new GatedStore(memory);
        Dataset<long> Build() => Dataset.StoreObjects(store, "data/").Map(b => BitConverter.ToInt64(b)).Prefetch(2);
        List<long> expected = await ReadAllAsync(Build());
        Assert.Equal([0, 1, 2, 100, 101, 102, 103, 104], expected);

        // Every read of object b blocks until released (or cancelled).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.BeforeRead = async (key, cancellationToken) =>
        {
            if (key == "data/b")
            {
                blocked.TrySetResult();
                await release.Task.WaitAsync(cancellationToken);
            }
        };

        await using ICheckpointableIterator<long> iterator = Build().CreateIterator();
        try
        {
            Assert.Equal([0, 1], await ReadAsync(iterator, 2));
            await blocked.Task.WaitAsync(Patience);

            // The producer is inside the read of b. The capture must complete without it.
            Task<byte[]> capture = Task.Run(() => SaveAsync(iterator));
            Task first = await Task.WhenAny(capture, Task.Delay(Patience));
            Assert.True(first == capture, "The capture waited for the producer's blocked read of the input.");
            byte[] state = await capture;

            release.TrySetResult();
            Assert.Equal(expected.Skip(2), await ReadAsync(iterator));
            store.BeforeRead = null;
            await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(), state);
            Assert.Equal(expected.Skip(2), await ReadAsync(restored));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    private static byte[] Records(long first, int count)
    {
        var bytes = new MemoryStream();
        for (int i = 0; i < count; i++)
        {
            bytes.Write(BitConverter.GetBytes(8));
            bytes.Write(BitConverter.GetBytes(first + i));
        }

        return bytes.ToArray();
    }
}
