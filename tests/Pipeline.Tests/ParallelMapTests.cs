using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>The parallel map and filter: the sequential operator's sequence, exact resume at any parallelism, bounded read-ahead, real concurrency.</summary>
public sealed class ParallelMapTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static TheoryData<int> Parallelisms => [1, 2, 3, 4, 8];

    [Theory]
    [MemberData(nameof(Parallelisms))]
    public async Task ParallelMap_YieldsTheSequentialSequence(int parallelism)
    {
        Dataset<long[]> Build(int p) => Dataset.Range(0, 5000).Map(Mix, p).Shuffle(300, 5).Batch(16).Map(b => b.Select(x => x * 2).ToArray(), p);
        Assert.Equal(await ReadAllAsync(Build(1)), await ReadAllAsync(Build(parallelism)), SequenceComparer<long>.Instance);
    }

    [Theory]
    [MemberData(nameof(Parallelisms))]
    public async Task ParallelFilter_YieldsTheSequentialSequence(int parallelism)
    {
        Dataset<long> Build(int p) => Dataset.Range(0, 3000).Filter(x => Mix(x) % 3 != 0, p).Map(x => x + 1, p);
        List<long> expected = await ReadAllAsync(Dataset.Range(0, 3000).Filter(x => Mix(x) % 3 != 0).Map(x => x + 1));
        Assert.Equal(expected, await ReadAllAsync(Build(parallelism)));
    }

    [Theory]
    [MemberData(nameof(Parallelisms))]
    public async Task ParallelMapOverAnAsyncInput_SavedAnywhere_RestoresAtAnyOtherParallelism(int parallelism)
    {
        // Prefetch hides the input's fast path, so the map reads it element by element, as from a file or a store.
        Dataset<string> Build(int p) => Dataset.Range(0, 120).Prefetch(3).Map(x => $"v{Mix(x)}", p).Filter(s => s.Length % 4 != 1, p);
        List<string> expected = await ReadAllAsync(Build(1));
        foreach (int saveAfter in new[] { 0, 1, 7, 50, expected.Count })
        {
            byte[] state;
            await using (ICheckpointableIterator<string> original = Build(parallelism).CreateIterator())
            {
                Assert.Equal(expected.Take(saveAfter), await ReadAsync(original, saveAfter));
                state = await SaveAsync(original);
                Assert.Equal(expected.Skip(saveAfter), await ReadAsync(original));
            }

            foreach (int restoreAt in new[] { 1, 2, 5 })
            {
                await using ICheckpointableIterator<string> restored = await RestoreAsync(Build(restoreAt), state);
                Assert.Equal(expected.Skip(saveAfter), await ReadAsync(restored));
            }
        }
    }

    [Fact]
    public async Task ParallelMap_ReadsAtMostItsWindowAhead_AndSavesWhatItRead()
    {
        const int Parallelism = 3;
        long read = 0;
        Dataset<long> Build() => Dataset.Range(0, 1000).Map(x =>
        {
            Interlocked.Increment(ref read);
            return x;
        }).Map(x => x * 10, Parallelism);

        await using ICheckpointableIterator<long> iterator = Build().CreateIterator();
        for (int yielded = 1; yielded <= 100; yielded++)
        {
            Assert.True(await iterator.MoveNextAsync());
            long ahead = Interlocked.Read(ref read) - yielded;
            Assert.InRange(ahead, 0, Parallelism + 8); // parallelism + max(parallelism, 8)
        }

        byte[] state = await SaveAsync(iterator);
        Assert.Equal(2, BitConverter.ToInt32(state, 4)); // inputs in flight: version 2
        read = 0;
        await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(), state);
        Assert.Equal(Enumerable.Range(100, 900).Select(i => i * 10L), await ReadAsync(restored));
    }

    [Fact]
    public async Task ParallelMap_RunsItsFunctionOnParallelismElementsAtOnce()
    {
        const int Parallelism = 3;
        using var together = new Barrier(Parallelism);
        Dataset<long> dataset = Dataset.Range(0, 30).Map(
            x =>
            {
                // Returns only once Parallelism calls are inside the function at the same time.
                if (x < Parallelism && !together.SignalAndWait(Patience))
                {
                    throw new TimeoutException("The calls did not run at the same time.");
                }

                return x;
            },
            Parallelism);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), await ReadAllAsync(dataset));
    }

    [Fact]
    public async Task ParallelMapFailure_IsThrownInOrder_AndTheIterationGoesOn()
    {
        foreach (int parallelism in new[] { 1, 4 })
        {
            await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 20)
                .Map(x => x is 5 or 6 ? throw new InvalidOperationException($"bad {x}") : x, parallelism)
                .CreateIterator();
            Assert.Equal([0, 1, 2, 3, 4], await ReadAsync(iterator, 5));
            Assert.Equal("bad 5", (await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync())).Message);
            Assert.Equal("bad 6", (await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync())).Message);
            Assert.Equal(Enumerable.Range(7, 13).Select(i => (long)i), await ReadAsync(iterator));
        }
    }

    [Fact]
    public async Task DisposingAParallelMap_WaitsForTheCallsUnderWay()
    {
        int running = 0;
        using var entered = new SemaphoreSlim(0);
        ICheckpointableIterator<long> iterator = Dataset.Range(0, 100).Map(
            x =>
            {
                Interlocked.Increment(ref running);
                entered.Release();
                Thread.Sleep(50);
                Interlocked.Decrement(ref running);
                return x;
            },
            4).CreateIterator();
        Assert.True(await iterator.MoveNextAsync());
        Assert.True(await entered.WaitAsync(Patience));
        await iterator.DisposeAsync();
        Assert.Equal(0, Volatile.Read(ref running));
    }

    [Fact]
    public void ParallelMapOfATypeWithoutACodec_FailsWhenAdded_AndParallelismBelowOneIsRefused()
    {
        Dataset<Opaque> opaque = Dataset.Range(0, 3).Map(x => new Opaque(x));
        Assert.Equal("map", Assert.Throws<ElementCodecNotFoundException>(() => opaque.Map(o => o.Value, 2)).OperatorName);
        Assert.Equal("filter", Assert.Throws<ElementCodecNotFoundException>(() => opaque.Filter(o => true, 2)).OperatorName);
        Assert.NotNull(opaque.Map(o => o.Value, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.Range(0, 3).Map(x => x, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.Range(0, 3).Filter(x => true, -1));
    }

    [Fact]
    public async Task AStateWithInputsInFlight_EveryTruncationAndFlippedByte_IsCorruption()
    {
        Dataset<long[]> Build() => Dataset.Range(0, 200).Map(x => x * 5, 3).Interleave(x => Dataset.Range(x, x + 4), 3, 2, 3).Batch(4);
        byte[] state;
        await using (ICheckpointableIterator<long[]> iterator = Build().CreateIterator())
        {
            await ReadAsync(iterator, 5);
            state = await SaveAsync(iterator);
        }

        Assert.Equal(2, BitConverter.ToInt32(state, 4));
        for (int i = 0; i < state.Length; i++)
        {
            byte[] damaged = (byte[])state.Clone();
            damaged[i] ^= (byte)(1 << (i % 8));
            await using ICheckpointableIterator<long[]> flipped = Build().CreateIterator();
            await Assert.ThrowsAnyAsync<CheckpointCorruptedException>(async () => await flipped.RestoreStateAsync(new MemoryStream(damaged)));
            await using ICheckpointableIterator<long[]> truncated = Build().CreateIterator();
            await Assert.ThrowsAnyAsync<CheckpointCorruptedException>(async () => await truncated.RestoreStateAsync(new MemoryStream(state, 0, i)));
        }
    }

    [Fact]
    public void Parallelism_IsNotPartOfTheStructure()
    {
        Assert.Equal(Dataset.Range(0, 3).Map(x => x, "decode").ToString(), Dataset.Range(0, 3).Map(x => x, 4, "decode").ToString());
        Assert.Equal(Dataset.Range(0, 3).Filter(x => true).ToString(), Dataset.Range(0, 3).Filter(x => true, 3).ToString());
    }

    private static long Mix(long x) => unchecked((x * 2_654_435_761L) ^ (x >> 3));

    private sealed record Opaque(long Value);
}
