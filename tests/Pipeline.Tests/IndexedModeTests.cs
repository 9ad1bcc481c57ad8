using CsCheck;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>Index mode: a seeded global permutation per epoch, O(1) state, and resuming with a different number of workers.</summary>
public sealed class IndexedModeTests
{
    private static IRandomAccessSource<int> Source(int count) => RandomAccessSource.FromList(Enumerable.Range(0, count).ToArray());

    private static Dataset<int> Worker(int count, ulong seed, int workers, int index, int? epochs = 1) =>
        Dataset.Indexed(Source(count), seed, workers, index, epochs);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(4097)]
    public async Task OneEpoch_IsAPermutationOfTheSource(int count)
    {
        List<int> order = await ReadAllAsync(Worker(count, 42, 1, 0));
        Assert.Equal(Enumerable.Range(0, count), order.Order());
        if (count >= 10)
        {
            Assert.NotEqual(Enumerable.Range(0, count), order);
        }
    }

    [Fact]
    public async Task Order_DependsOnSeedAndEpoch_AndIsDeterministic()
    {
        List<int> a = await ReadAllAsync(Worker(50, 1, 1, 0, epochs: 2));
        List<int> b = await ReadAllAsync(Worker(50, 1, 1, 0, epochs: 2));
        List<int> c = await ReadAllAsync(Worker(50, 2, 1, 0, epochs: 2));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a.Take(50), a.Skip(50));
        Assert.Equal(Enumerable.Range(0, 50), a.Skip(50).Order());
    }

    [Fact]
    public async Task Workers_SplitTheGlobalOrderByPosition()
    {
        List<int> global = await ReadAllAsync(Worker(23, 9, 1, 0));
        for (int i = 0; i < 4; i++)
        {
            List<int> mine = await ReadAllAsync(Worker(23, 9, 4, i));
            Assert.Equal(global.Where((_, position) => position % 4 == i), mine);
        }
    }

    [Theory]
    [InlineData(4, 3, 103, 10, 1)]
    [InlineData(4, 6, 103, 10, 1)]
    [InlineData(4, 3, 10, 3, 2)]
    [InlineData(4, 6, 10, 4, 2)]
    [InlineData(4, 4, 50, 5, 1)]
    [InlineData(4, 1, 37, 0, 1)]
    [InlineData(1, 5, 37, 20, 1)]
    public Task ResumingWithADifferentWorkerCount_ConsumesExactlyOnePassPerEpoch(int before, int after, int count, int steps, int epochs) =>
        AssertReshardingAsync(count, 77, before, after, steps, epochs);

    [Fact]
    public Task ResumingWithADifferentWorkerCount_Property() =>
        Gen.Select(Gen.Int[0, 120], Gen.ULong, Gen.Int[1, 6], Gen.Int[1, 6], Gen.Int[0, 40], Gen.Int[1, 2])
            .SampleAsync(
                (count, seed, before, after, steps, epochs) => AssertReshardingAsync(count, seed, before, after, Math.Min(steps, (count * epochs / before) + 1), epochs),
                iter: 150,
                threads: 2);

    /// <summary>
    /// <paramref name="before"/> workers read <paramref name="steps"/> elements each in lockstep and save; <paramref name="after"/>
    /// workers are restored (worker j from the state of worker j mod before) and read to the end. Every element a worker
    /// reads must be the one at its global position, and together they must cover every position exactly once.
    /// </summary>
    private static async Task AssertReshardingAsync(int count, ulong seed, int before, int after, int steps, int epochs)
    {
        List<int> global = await ReadAllAsync(Worker(count, seed, 1, 0, epochs));
        Assert.Equal(count * epochs, global.Count);
        var covered = new int[global.Count];

        var states = new byte[before][];
        for (int i = 0; i < before; i++)
        {
            await using ICheckpointableIterator<int> worker = Worker(count, seed, before, i, epochs).CreateIterator();
            List<int> read = await ReadAsync(worker, steps);
            for (int t = 0; t < read.Count; t++)
            {
                int position = i + (t * before);
                Assert.Equal(global[position], read[t]);
                covered[position]++;
            }

            states[i] = await SaveAsync(worker);
        }

        long cursor = (long)steps * before;
        for (int j = 0; j < after; j++)
        {
            await using ICheckpointableIterator<int> worker = await RestoreAsync(Worker(count, seed, after, j, epochs), states[j % before]);
            List<int> read = await ReadAsync(worker);
            for (int t = 0; t < read.Count; t++)
            {
                long position = cursor + j + ((long)t * after);
                Assert.True(position < global.Count, $"worker {j} read past the end");
                Assert.Equal(global[(int)position], read[t]);
                covered[position]++;
            }
        }

        Assert.All(covered, c => Assert.Equal(1, c));
        for (int e = 0; e < epochs; e++)
        {
            Assert.Equal(Enumerable.Range(0, count), global.Skip(e * count).Take(count).Order());
        }
    }

    [Fact]
    public async Task State_IsSmallAndIndependentOfTheSourceSize()
    {
        byte[] small = await StateAfter(Worker(10, 1, 4, 0), 2);
        byte[] large = await StateAfter(Dataset.Indexed(new CountingSource(1_000_000_000), 1, 4, 0, 1), 2);
        Assert.Equal(small.Length, large.Length - ("1000000000".Length - "10".Length) - ("CountingSource".Length - "list".Length));
        Assert.True(large.Length < 200);
    }

    [Fact]
    public async Task OtherSeed_IsAMismatch()
    {
        byte[] state = await StateAfter(Worker(100, 1, 4, 0), 5);
        await using ICheckpointableIterator<int> iterator = Worker(100, 2, 4, 0).CreateIterator();
        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state)));
        Assert.Contains("saved indexed(seed=1) but the pipeline has indexed(seed=2)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherSourceSize_IsAMismatch()
    {
        byte[] state = await StateAfter(Worker(100, 1, 4, 0), 5);
        await using ICheckpointableIterator<int> iterator = Worker(101, 1, 4, 0).CreateIterator();
        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state)));
        Assert.Contains("saved indexed(count=100) but the pipeline has indexed(count=101)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherShardCountAndEpochs_AreAllowed()
    {
        byte[] state = await StateAfter(Worker(100, 1, 4, 0, epochs: 1), 5);
        await using ICheckpointableIterator<int> iterator = Worker(100, 1, 7, 6, epochs: 3).CreateIterator();
        await iterator.RestoreStateAsync(new MemoryStream(state));
        Assert.True(await iterator.MoveNextAsync());
    }

    [Fact]
    public async Task IndexedRecordFile_AsASource_YieldsEveryRecordOncePerEpoch()
    {
        using var folder = new TempDirectory("pipeline-indexed");
        string path = folder.Combine("data.rec");
        RecordFileWriter.WriteAll(path, Enumerable.Range(0, 300).Select(i => BitConverter.GetBytes(i)));
        using var file = new IndexedRecordFile(path);
        Func<int, int, Dataset<int>> build = (workers, index) => Dataset.Indexed(file, 5, workers, index, epochs: 1).Map(r => BitConverter.ToInt32(r));
        List<int> all = await ReadAllAsync(build(1, 0));
        Assert.Equal(Enumerable.Range(0, 300), all.Order());
        Assert.Contains("records:" + path, build(1, 0).ToString(), StringComparison.Ordinal);

        var seen = new List<int>();
        var states = new List<byte[]>();
        for (int i = 0; i < 3; i++)
        {
            await using ICheckpointableIterator<int> worker = build(3, i).CreateIterator();
            seen.AddRange(await ReadAsync(worker, 40));
            states.Add(await SaveAsync(worker));
        }

        for (int j = 0; j < 5; j++)
        {
            await using ICheckpointableIterator<int> worker = await RestoreAsync(build(5, j), states[0]);
            seen.AddRange(await ReadAsync(worker));
        }

        Assert.Equal(Enumerable.Range(0, 300), seen.Order());
    }

    [Fact]
    public Task IndexedWithOperators_ResumesLikeAnyPipeline() =>
        AssertResumeMatchesAsync(() => Worker(200, 3, 2, 1, epochs: null).Batch(8).Prefetch(3).Map(b => b.Sum()), 30, 120);

    private static async Task<byte[]> StateAfter(Dataset<int> dataset, int elements)
    {
        await using ICheckpointableIterator<int> iterator = dataset.CreateIterator();
        await ReadAsync(iterator, elements);
        return await SaveAsync(iterator);
    }

    private sealed class CountingSource(long count) : IRandomAccessSource<int>
    {
        public long Count => count;

        public int Read(long index) => (int)(index % 1000);
    }
}
