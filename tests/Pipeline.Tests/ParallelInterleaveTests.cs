using InputPipeline.Checkpointing.Testing;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>The parallel interleave: the sequential interleave's order, exact resume at any parallelism, concurrent reads, a capture that does not wait for a read.</summary>
public sealed class ParallelInterleaveTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 2 }, { 3, 1, 2 }, { 3, 2, 3 }, { 4, 3, 4 }, { 5, 2, 8 }, { 2, 4, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task ParallelInterleave_YieldsTheSequentialOrder(int cycle, int block, int parallelism)
    {
        // Inner datasets of 0 to 6 elements, some shuffled: empty ones free their slot at once.
        Dataset<long> Build(int p) => Dataset.Range(0, 40).Interleave(x => Inner(x), cycle, block, p).Map(x => x * 3);
        List<long> expected = await ReadAllAsync(Dataset.Range(0, 40).Interleave(x => Inner(x), cycle, block).Map(x => x * 3));
        Assert.Equal(expected, await ReadAllAsync(Build(parallelism)));
        Assert.Equal(expected, await ReadAllAsync(Build(1)));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task ParallelInterleave_SavedAnywhere_RestoresAtAnyParallelism(int cycle, int block, int parallelism)
    {
        Dataset<long> Build(int p) => Dataset.Range(0, 30).Interleave(x => Inner(x), cycle, block, p);
        List<long> expected = await ReadAllAsync(Build(1));
        for (int saveAfter = 0; saveAfter <= expected.Count; saveAfter += 7)
        {
            byte[] state;
            await using (ICheckpointableIterator<long> original = Build(parallelism).CreateIterator())
            {
                Assert.Equal(expected.Take(saveAfter), await ReadAsync(original, saveAfter));
                state = await SaveAsync(original);
                Assert.Equal(expected.Skip(saveAfter), await ReadAsync(original));
            }

            foreach (int restoreAt in new[] { 1, 2, parallelism })
            {
                await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(restoreAt), state);
                Assert.Equal(expected.Skip(saveAfter), await ReadAsync(restored));
            }
        }
    }

    [Fact]
    public async Task ParallelInterleave_ReadsParallelismDatasetsAtOnce()
    {
        const int Parallelism = 3;
        using var together = new Barrier(Parallelism);
        Dataset<long> dataset = Dataset.Range(0, 6).Interleave(
            x => Dataset.Range(x * 10, (x * 10) + 3).Map(v =>
            {
                // The first element of the first Parallelism datasets is read only once they are all being read.
                if (v % 10 == 0 && x < Parallelism && !together.SignalAndWait(Patience))
                {
                    throw new TimeoutException("The datasets were not read at the same time.");
                }

                return v;
            }),
            cycleLength: 6,
            blockLength: 1,
            parallelism: Parallelism);
        List<long> expected = await ReadAllAsync(Dataset.Range(0, 6).Interleave(x => Dataset.Range(x * 10, (x * 10) + 3), 6));
        Assert.Equal(expected, await ReadAllAsync(dataset));
    }

    [Fact]
    public async Task CaptureWhileShardReadsAreBlocked_DoesNotWaitForThem_AndResumesExactly()
    {
        var memory = new InMemoryInputStateStore();
        for (int shard = 0; shard < 4; shard++)
        {
            await memory.WriteAsync($"shards/{shard}", new MemoryStream(Records(shard * 100, 20)), WriteCondition.None);
        }

        var store = new GatedStore(memory);
        Dataset<long> Build(int p) => Dataset.FromList(["shards/0", "shards/1", "shards/2", "shards/3"])
            .Interleave(key => Dataset.StoreObjects(store, key).Map(b => BitConverter.ToInt64(b)), 4, 2, p);
        List<long> expected = await ReadAllAsync(Build(1));
        Assert.Equal(80, expected.Count);

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.BeforeRead = (key, cancellationToken) => key == "shards/3" ? release.Task.WaitAsync(cancellationToken) : Task.CompletedTask;
        await using ICheckpointableIterator<long> iterator = Build(4).CreateIterator();
        try
        {
            // Shard 3's slot is last in the cycle: 6 elements come from the other three first.
            Assert.Equal(expected.Take(6), await ReadAsync(iterator, 6));
            Task<byte[]> capture = Task.Run(() => SaveAsync(iterator));
            Assert.True(await Task.WhenAny(capture, Task.Delay(Patience)) == capture, "The capture waited for a blocked shard read.");
            byte[] state = await capture;
            release.TrySetResult();
            Assert.Equal(expected.Skip(6), await ReadAsync(iterator));

            store.BeforeRead = null;
            foreach (int p in new[] { 1, 4 })
            {
                await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(p), state);
                Assert.Equal(expected.Skip(6), await ReadAsync(restored));
            }
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task FailuresOfTheInputAndOfADataset_SurfaceWhereTheSequentialInterleaveThrowsThem()
    {
        async Task<List<string>> RunAsync(int parallelism)
        {
            Dataset<long> dataset = Dataset.Range(0, 8)
                .Map(x => x == 5 ? throw new InvalidOperationException("input 5") : x)
                .Interleave(x => Dataset.Range(x * 10, (x * 10) + 3).Map(v => v == 21 ? throw new InvalidOperationException("inner 21") : v), 3, 1, parallelism);
            await using ICheckpointableIterator<long> iterator = dataset.CreateIterator();
            var seen = new List<string>();
            while (true)
            {
                try
                {
                    if (!await iterator.MoveNextAsync())
                    {
                        return seen;
                    }

                    seen.Add(iterator.Current.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                catch (InvalidOperationException ex)
                {
                    seen.Add(ex.Message);
                }
            }
        }

        List<string> sequential = await RunAsync(1);
        Assert.Contains("input 5", sequential);
        Assert.Contains("inner 21", sequential);
        Assert.Equal(sequential, await RunAsync(3));
    }

    [Fact]
    public void ParallelInterleaveOfATypeWithoutACodec_FailsWhenAdded_AndItsParallelismIsNotInTheStructure()
    {
        Assert.Equal(
            "interleave",
            Assert.Throws<ElementCodecNotFoundException>(() => Dataset.Range(0, 3).Interleave(x => Dataset.Range(0, x).Map(v => new Opaque(v)), 2, 1, 2)).OperatorName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.Range(0, 3).Interleave(x => Dataset.Range(0, x), 2, 1, 0));
        Assert.Equal(
            Dataset.Range(0, 3).Interleave(x => Dataset.Range(0, x), 2, 1).ToString(),
            Dataset.Range(0, 3).Interleave(x => Dataset.Range(0, x), 2, 1, 2).ToString());
    }

    private static Dataset<long> Inner(long x)
    {
        Dataset<long> inner = Dataset.Range(x * 100, (x * 100) + (x % 7));
        return x % 3 == 0 ? inner.Shuffle(3, (ulong)x) : inner;
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

    private sealed record Opaque(long Value);
}
