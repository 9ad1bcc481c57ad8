using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>Iterators start lazily, stop their producers when disposed, and describe their saved states.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task CreatingAndCapturing_DoesNoWork_BeforeTheFirstElement()
    {
        int pulled = 0;
        await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 100).Map(x =>
        {
            Interlocked.Increment(ref pulled);
            return x;
        }).Prefetch(10).CreateIterator();
        using ICheckpointSnapshot snapshot = iterator.CaptureState();
        await snapshot.WriteToAsync(Stream.Null);
        Assert.Equal(0, Volatile.Read(ref pulled));
    }

    [Fact]
    public async Task Disposing_StopsThePrefetchProducer()
    {
        int pulled = 0;
        ICheckpointableIterator<long> iterator = Dataset.Range(0, 3).Repeat().Map(x =>
        {
            Interlocked.Increment(ref pulled);
            return x;
        }).Prefetch(4).CreateIterator();
        Assert.Equal(5, (await ReadAsync(iterator, 5)).Count);
        await iterator.DisposeAsync();
        int afterDispose = Volatile.Read(ref pulled);
        await Task.Delay(100);
        Assert.Equal(afterDispose, Volatile.Read(ref pulled));
    }

    [Fact]
    public async Task Disposing_StopsProducersInsideInterleavedDatasets()
    {
        ICheckpointableIterator<long> iterator = Dataset.Range(0, 4).Interleave(x => Dataset.Range(x, x + 1000).Prefetch(3), 4).Prefetch(2).CreateIterator();
        Assert.Equal(10, (await ReadAsync(iterator, 10)).Count);
        await iterator.DisposeAsync();
    }

    [Fact]
    public async Task SavedState_DescribesThePipelineThatSavedIt()
    {
        Dataset<long[]> dataset = Dataset.Range(0, 10).Shuffle(4, 7).Batch(2);
        await using ICheckpointableIterator<long[]> iterator = dataset.CreateIterator();
        await iterator.MoveNextAsync();
        byte[] state = await SaveAsync(iterator);
        Assert.Equal(dataset.ToString(), await PipelineState.ReadDescriptionAsync(new MemoryStream(state)));
        Assert.Equal(2, PipelineState.FormatVersion);
        Assert.Equal(1, BitConverter.ToInt32(state, 4)); // nothing in flight: written in version 1, as before version 2 existed
        await Assert.ThrowsAsync<CheckpointCorruptedException>(async () => await PipelineState.ReadDescriptionAsync(new MemoryStream([1, 2, 3, 4, 5])));
    }

    [Fact]
    public async Task IteratorsOfOneDataset_AreIndependent()
    {
        Dataset<long> dataset = Dataset.Range(0, 20).Shuffle(5, 3).Prefetch(2);
        await using ICheckpointableIterator<long> a = dataset.CreateIterator();
        await using ICheckpointableIterator<long> b = dataset.CreateIterator();
        List<long> fromA = await ReadAsync(a, 7);
        List<long> fromB = await ReadAsync(b);
        fromA.AddRange(await ReadAsync(a));
        Assert.Equal(fromA, fromB);
    }
}
