using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>What each source and operator yields, without saving.</summary>
public sealed class OperatorSemanticsTests
{
    [Theory]
    [InlineData(0, 5, 1, new long[] { 0, 1, 2, 3, 4 })]
    [InlineData(0, 10, 3, new long[] { 0, 3, 6, 9 })]
    [InlineData(5, 0, -2, new long[] { 5, 3, 1 })]
    [InlineData(3, 3, 1, new long[0])]
    [InlineData(3, 1, 1, new long[0])]
    [InlineData(-2, 2, 1, new long[] { -2, -1, 0, 1 })]
    public async Task Range_YieldsLikePython(long start, long end, long step, long[] expected) =>
        Assert.Equal(expected, await ReadAllAsync(Dataset.Range(start, end, step)));

    [Fact]
    public async Task Range_NearTheLimits_DoesNotOverflow()
    {
        Assert.Equal([long.MaxValue - 2, long.MaxValue - 1], await ReadAllAsync(Dataset.Range(long.MaxValue - 2, long.MaxValue)));
        Assert.Equal([long.MinValue, -1, long.MaxValue - 1], await ReadAllAsync(Dataset.Range(long.MinValue, long.MaxValue, long.MaxValue)));
    }

    [Fact]
    public void Range_StepZero_Throws() => Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.Range(0, 1, 0));

    [Fact]
    public async Task FromList_CopiesTheList()
    {
        var items = new List<int> { 1, 2, 3 };
        Dataset<int> dataset = Dataset.FromList(items);
        items.Add(4);
        Assert.Equal([1, 2, 3], await ReadAllAsync(dataset));
    }

    [Fact]
    public async Task MapAndFilter_Compose() =>
        Assert.Equal([0, 4, 16, 36, 64], await ReadAllAsync(Dataset.Range(0, 10).Filter(x => x % 2 == 0).Map(x => x * x)));

    [Fact]
    public async Task Batch_KeepsOrDropsTheRemainder()
    {
        List<long[]> kept = await ReadAllAsync(Dataset.Range(0, 7).Batch(3));
        Assert.Equal([[0, 1, 2], [3, 4, 5], [6]], kept);
        List<long[]> dropped = await ReadAllAsync(Dataset.Range(0, 7).Batch(3, dropRemainder: true));
        Assert.Equal([[0, 1, 2], [3, 4, 5]], dropped);
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 2).Batch(3, dropRemainder: true)));
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 0).Batch(3)));
    }

    [Fact]
    public async Task TakeSkipShard_SelectPositions()
    {
        Assert.Equal([0, 1, 2], await ReadAllAsync(Dataset.Range(0, 10).Take(3)));
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 10).Take(0)));
        Assert.Equal([7, 8, 9], await ReadAllAsync(Dataset.Range(0, 10).Skip(7)));
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 10).Skip(20)));
        Assert.Equal([1, 4, 7], await ReadAllAsync(Dataset.Range(0, 10).Shard(3, 1)));
        Assert.Equal([2, 5, 8], await ReadAllAsync(Dataset.Range(0, 10).Shard(3, 2)));
    }

    [Fact]
    public async Task ZipAndConcatenate()
    {
        Assert.Equal([(0L, "a"), (1L, "b")], await ReadAllAsync(Dataset.Range(0, 5).Zip(Dataset.FromList(["a", "b"]))));
        Assert.Equal([0, 1, 10, 11], await ReadAllAsync(Dataset.Range(0, 2).Concatenate(Dataset.Range(10, 12))));
    }

    [Fact]
    public async Task Interleave_FollowsTfDataOrder()
    {
        // tf.data: Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2, block_length=4)
        // => 1 1 1 1 2 2 2 2 1 1 2 2 3 3 3 3 4 4 4 4 3 3 4 4 5 5 5 5 5 5
        List<long> actual = await ReadAllAsync(Dataset.Range(1, 6).Interleave(x => Dataset.FromList([x]).Repeat(6), cycleLength: 2, blockLength: 4));
        Assert.Equal([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5], actual);
    }

    [Fact]
    public async Task Interleave_WithEmptyInnerDatasets_SkipsThem() =>
        Assert.Equal([10, 11, 30, 31], await ReadAllAsync(Dataset.FromList([1L, 2L, 3L]).Interleave(x => x == 2 ? Dataset.Range(0, 0) : Dataset.Range(x * 10, (x * 10) + 2), cycleLength: 2)));

    [Fact]
    public async Task Shuffle_IsADeterministicPermutation()
    {
        List<long> a = await ReadAllAsync(Dataset.Range(0, 100).Shuffle(10, 42));
        List<long> b = await ReadAllAsync(Dataset.Range(0, 100).Shuffle(10, 42));
        List<long> c = await ReadAllAsync(Dataset.Range(0, 100).Shuffle(10, 43));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), a.Order());
        Assert.NotEqual(Enumerable.Range(0, 100).Select(i => (long)i), a);
    }

    [Fact]
    public async Task Shuffle_BufferOfOne_KeepsTheOrder() =>
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), await ReadAllAsync(Dataset.Range(0, 20).Shuffle(1, 9)));

    [Fact]
    public async Task RepeatedShuffle_HasItsOwnDeterministicOrderPerEpoch()
    {
        List<long> run1 = await ReadAllAsync(Dataset.Range(0, 30).Shuffle(30, 5).Repeat(3));
        List<long> run2 = await ReadAllAsync(Dataset.Range(0, 30).Shuffle(30, 5).Repeat(3));
        Assert.Equal(run1, run2);
        List<long>[] epochs = [.. run1.Chunk(30).Select(e => e.ToList())];
        Assert.Equal(3, epochs.Length);
        Assert.All(epochs, e => Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), e.Order()));
        Assert.NotEqual(epochs[0], epochs[1]);
        Assert.NotEqual(epochs[1], epochs[2]);

        List<long> same = await ReadAllAsync(Dataset.Range(0, 30).Shuffle(30, 5, reshuffleEachIteration: false).Repeat(3));
        Assert.Equal(same.Take(30), same.Skip(30).Take(30));
    }

    [Fact]
    public async Task Repeat_CountsEpochs_AndAnEmptyEpochEndsForever()
    {
        Assert.Equal([0, 1, 0, 1, 0, 1], await ReadAllAsync(Dataset.Range(0, 2).Repeat(3)));
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 2).Repeat(0)));
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 0).Repeat()));
        Assert.Equal(1000, (await ReadAllAsync(Dataset.Range(0, 3).Repeat(), 1000)).Count);
    }

    [Fact]
    public async Task Prefetch_PreservesOrderAndEnds()
    {
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)i), await ReadAllAsync(Dataset.Range(0, 500).Prefetch(7)));
        Assert.Empty(await ReadAllAsync(Dataset.Range(0, 0).Prefetch(3)));
    }

    [Fact]
    public async Task Prefetch_SurfacesTheProducersFailure_AfterTheBufferedElements()
    {
        await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 10).Map(x => x == 3 ? throw new InvalidOperationException("boom") : x).Prefetch(5).CreateIterator();
        Assert.Equal([0, 1, 2], await ReadAsync(iterator, 3));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync());
    }

    [Fact]
    public async Task Exhausted_IteratorKeepsReturningFalse()
    {
        await using ICheckpointableIterator<long[]> iterator = Dataset.Range(0, 3).Shuffle(2, 1).Batch(2).Prefetch(1).CreateIterator();
        Assert.Equal(2, (await ReadAsync(iterator)).Count);
        Assert.False(await iterator.MoveNextAsync());
        Assert.False(await iterator.MoveNextAsync());
    }

    [Fact]
    public void Operators_RejectBadArguments()
    {
        Dataset<long> d = Dataset.Range(0, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Batch(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Shuffle(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Repeat(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Take(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Skip(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Shard(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Shard(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Prefetch(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Interleave(x => d, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Interleave(x => d, 1, 0));
        Assert.Throws<ArgumentNullException>(() => d.Map<long>(null!));
        Assert.Throws<ArgumentNullException>(() => d.Filter(null!));
        Assert.Throws<ArgumentNullException>(() => d.Zip<long>(null!));
        Assert.Throws<ArgumentNullException>(() => d.Concatenate(null!));
        Assert.Throws<ArgumentNullException>(() => Dataset.FromList<int>(null!));
        Assert.Throws<ArgumentException>(() => Dataset.TextLines(""));
        Assert.Throws<ArgumentException>(() => Dataset.Records(["a", ""]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.Indexed(RandomAccessSource.FromList([1]), 1, shardCount: 2, shardIndex: 2));
    }

    [Fact]
    public void ToString_DescribesTheStructure()
    {
        string text = Dataset.Range(0, 10).Shuffle(4, 7).Batch(2, dropRemainder: true).ToString();
        Assert.Equal("range(start=0,end=10,step=1) | shuffle(buffer=4,seed=7,reshuffle=true,codec=int64) | batch(size=2,drop=true,codec=int64)", text);
    }
}
