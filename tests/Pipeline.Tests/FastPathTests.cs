using System.Security.Cryptography;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>
/// The synchronous bulk path of the in-memory sources and operators: it must yield the same elements, save the same state
/// bytes and surface the same failures as the element-by-element path, also where it meets nodes without one (prefetch,
/// files), below which every operator falls back to waiting element by element.
/// </summary>
public sealed class FastPathTests : IDisposable
{
    private static readonly Dictionary<string, Func<Func<Dataset<long>, Dataset<long>>, Dataset<long>>> s_pipelines = new()
    {
        ["range-map-shuffle-batch"] = gap => Hash(gap(gap(gap(Dataset.Range(0, 3000)).Map(Mix)).Shuffle(500, 7)).Batch(32)),
        ["shuffle-larger-than-input"] = gap => Hash(gap(gap(Dataset.Range(0, 700)).Shuffle(1000, 3)).Batch(9)),
        ["list-filter-take-skip-shard"] = gap => gap(gap(gap(gap(Dataset.FromList([.. Enumerable.Range(0, 900).Select(i => (long)i * 7)]))
            .Filter(x => x % 3 != 1)).Take(500)).Skip(13)).Shard(3, 2),
        ["repeat-shuffle-batch-shuffle"] = gap => Hash(gap(gap(gap(Dataset.Range(0, 300)).Shuffle(64, 11)).Repeat(3)).Batch(5)).Shuffle(17, 5),
        ["concatenate-batch"] = gap => Hash(gap(gap(Dataset.Range(0, 50)).Concatenate(gap(Dataset.Range(1000, 1077)))).Batch(6, dropRemainder: true)),
        ["indexed-batch"] = gap => Hash(gap(Dataset.Indexed(RandomAccessSource.FromList([.. Enumerable.Range(0, 400).Select(i => (long)i)]), 5, epochs: 2)).Batch(16)),
        ["map-to-another-type"] = gap => gap(gap(Dataset.Range(0, 600)).Map(x => $"v{x}").Shuffle(40, 2).Map(s => long.Parse(s.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture))),
    };

    private readonly TempDirectory _folder = new("pipeline-fastpath");

    public static TheoryData<string> PipelineNames => [.. s_pipelines.Keys];

    public void Dispose() => _folder.Dispose();

    [Theory]
    [MemberData(nameof(PipelineNames))]
    public async Task FastPath_YieldsWhatTheElementByElementPathYields(string name)
    {
        // A Prefetch(1) under every operator hides the fast path from it: the reference, element by element.
        List<long> slow = await ReadAllAsync(s_pipelines[name](d => d.Prefetch(1)));
        List<long> fast = await ReadAllAsync(s_pipelines[name](d => d));
        Assert.NotEmpty(fast);
        Assert.Equal(slow, fast);
    }

    [Theory]
    [MemberData(nameof(PipelineNames))]
    public async Task FastPath_AndPrefetchMixed_RestoreThenContinue_EqualsUninterruptedRun(string name)
    {
        // Fast operators over a prefetch and a prefetch over fast operators, saved at many points.
        Dataset<long> Build()
        {
            int gaps = 0;
            return s_pipelines[name](d => gaps++ % 2 == 0 ? d : d.Prefetch(2));
        }

        int count = (await ReadAllAsync(Build())).Count;
        for (int k = 0; k <= count; k += Math.Max(1, count / 17))
        {
            await AssertResumeMatchesAsync(Build, k, count + 1);
        }
    }

    [Fact]
    public async Task AsyncSourceUnderFastOperators_RestoreMidShuffleAndMidBatch_ContinuesTheSame()
    {
        string path = _folder.Combine("values.rec");
        RecordFileWriter.WriteAll(path, Enumerable.Range(0, 400).Select(i => BitConverter.GetBytes((long)i)));
        Dataset<long> Build() => Hash(Dataset.Range(-60, 0)
            .Concatenate(Dataset.Records([path]).Map(b => BitConverter.ToInt64(b)))
            .Concatenate(Dataset.Range(1000, 1100))
            .Shuffle(150, 21)
            .Batch(7));
        int count = (await ReadAllAsync(Build())).Count;
        Assert.Equal(80, count);
        for (int k = 0; k <= count; k++)
        {
            await AssertResumeMatchesAsync(Build, k, count + 1);
        }
    }

    [Fact]
    public async Task BatchFilledPartlyByTheFastPath_CancelledWhileWaiting_KeepsItsElementsInTheState()
    {
        using var gate = new ManualResetEventSlim(false);
        Dataset<long[]> Build(bool block) => Dataset.Range(0, 5)
            .Concatenate(Dataset.Range(5, 20).Map(x =>
            {
                if (block && x == 7)
                {
                    gate.Wait();
                }

                return x;
            }).Prefetch(1))
            .Batch(4);

        await using ICheckpointableIterator<long[]> iterator = Build(block: true).CreateIterator();
        Assert.True(await iterator.MoveNextAsync());
        Assert.Equal([0, 1, 2, 3], iterator.Current);
        using (var cancel = new CancellationTokenSource())
        {
            ValueTask<bool> next = iterator.MoveNextAsync(cancel.Token);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
        }

        gate.Set();
        byte[] state = await SaveAsync(iterator);
        Assert.True(await iterator.MoveNextAsync());
        Assert.Equal([4, 5, 6, 7], iterator.Current);

        await using ICheckpointableIterator<long[]> restored = await RestoreAsync(Build(block: false), state);
        Assert.Equal([[4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]], await ReadAsync(restored));
    }

    [Fact]
    public async Task ShuffleFilledPartlyByTheFastPath_CancelledWhileWaiting_KeepsItsBufferInTheState()
    {
        using var gate = new ManualResetEventSlim(false);
        Dataset<long> Build(bool block) => Dataset.Range(0, 30)
            .Concatenate(Dataset.Range(100, 140).Map(x =>
            {
                if (block && x == 110)
                {
                    gate.Wait();
                }

                return x;
            }).Prefetch(1))
            .Shuffle(50, 8);

        List<long> expected = await ReadAllAsync(Build(block: false));
        await using ICheckpointableIterator<long> iterator = Build(block: true).CreateIterator();
        using (var cancel = new CancellationTokenSource())
        {
            ValueTask<bool> next = iterator.MoveNextAsync(cancel.Token);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
        }

        gate.Set();
        byte[] state = await SaveAsync(iterator);
        Assert.Equal(expected, await ReadAsync(iterator));

        await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(block: false), state);
        Assert.Equal(expected, await ReadAsync(restored));
    }

    [Fact]
    public async Task MapFailingInsideABatch_ThrowsThere_AndContinuesAsElementByElement()
    {
        Dataset<long[]> Build(bool fast) =>
            (fast ? Dataset.Range(0, 40) : Dataset.Range(0, 40).Prefetch(1)).Map(x => x == 17 ? throw new InvalidOperationException("boom") : x).Batch(5);
        foreach (bool fast in new[] { false, true })
        {
            await using ICheckpointableIterator<long[]> iterator = Build(fast).CreateIterator();
            Assert.Equal([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]], await ReadAsync(iterator, 3));
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync());

            // The batch in progress kept 15 and 16; the failed input is consumed.
            Assert.Equal([[15, 16, 18, 19, 20], [21, 22, 23, 24, 25]], await ReadAsync(iterator, 2));
        }
    }

    [Fact]
    public async Task FilterFailingInsideAShuffle_ThrowsThere_AndContinuesAsElementByElement()
    {
        Dataset<long> Build(bool fast) =>
            (fast ? Dataset.Range(0, 100) : Dataset.Range(0, 100).Prefetch(1)).Filter(x => x == 23 ? throw new InvalidOperationException("boom") : x % 2 == 0).Shuffle(5, 1);
        var runs = new List<List<long>>();
        foreach (bool fast in new[] { false, true })
        {
            await using ICheckpointableIterator<long> iterator = Build(fast).CreateIterator();
            var run = new List<long>();
            bool failed = false;
            while (true)
            {
                try
                {
                    if (!await iterator.MoveNextAsync())
                    {
                        break;
                    }

                    run.Add(iterator.Current);
                }
                catch (InvalidOperationException)
                {
                    Assert.False(failed);
                    failed = true;
                    run.Add(-1);
                }
            }

            Assert.True(failed);
            runs.Add(run);
        }

        Assert.Equal(runs[0], runs[1]);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => 2L * i), runs[1].Where(x => x >= 0).Order());
    }

    [Fact]
    public async Task SavedStates_AreByteForByteTheStatesOfTheElementByElementImplementation()
    {
        // SHA-256 of the states saved after 0, 1, 312 and 313 batches, as recorded before the fast path existed.
        await AssertStateHashesAsync(
            () => Dataset.Range(0, 100_000).Map(Mix).Shuffle(10_000, 42).Batch(32),
            [0, 1, 312, 313],
            [
                "39E46BE37EA8D7FAE366ABD516E4B298C5A36912E6D2FE4E0E871351C4B47F60",
                "318F35C76A92D1C7D57408E3E186489BDEDC4B5CC8E24AAD405DC467F61B66E4",
                "15D1C5B4E174886E2492D9F23040CFE140547D851CC03A54AF2A917ED16CF5AA",
                "E573A4D0AD4281AB6666147EE6A8C4A1E016A95F1E0B832F421DBA8BB895866F",
            ]);
        await AssertStateHashesAsync(
            () => Dataset.Range(0, 5_000).Filter(x => x % 3 != 1).Shuffle(300, 5).Take(4000).Skip(77).Shard(3, 1).Batch(7).Repeat(2),
            [0, 5, 100, 186],
            [
                "E71A9B5F427B694AAC8C21CDA59D3B8661AC763AE8F10F6124A93626094322E9",
                "86F39408C379C5630693D7DD56806800060ABB6031D64BB2999FAB2758EEBE1A",
                "A5857BEF153F751ADD577DEB1E3181B13C3B527749A7DB3C6D801ACAF3B3E451",
                "225E0A5FE64A62DEB8452521FF2BA110A89E819B39419119DF0AA9284AA742E4",
            ]);
    }

    private static async Task AssertStateHashesAsync<T>(Func<Dataset<T>> build, int[] points, string[] expected)
    {
        await using ICheckpointableIterator<T> iterator = build().CreateIterator();
        int read = 0;
        var actual = new List<string>();
        foreach (int point in points)
        {
            for (; read < point; read++)
            {
                Assert.True(await iterator.MoveNextAsync());
            }

            actual.Add(Convert.ToHexString(SHA256.HashData(await SaveAsync(iterator))));
        }

        Assert.Equal(expected, actual);
    }

    private static long Mix(long x) => unchecked((x * 2_654_435_761L) ^ (x >> 3));

    private static Dataset<long> Hash(Dataset<long[]> batches) =>
        batches.Map(batch => unchecked((batch.Aggregate(17L, (h, x) => (h * 31) + x) * 64) + batch.Length));
}
