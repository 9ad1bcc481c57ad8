using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>The save points users hit in practice: epoch boundaries, the very start and end, empty sources, oversize buffers, a prefetcher running ahead.</summary>
public sealed class EdgeCaseTests
{
    public static TheoryData<int> EpochBoundaries => [0, 10, 20, 30];

    [Theory]
    [MemberData(nameof(EpochBoundaries))]
    public Task RepeatedShuffle_SavedExactlyAtAnEpochBoundary_Resumes(int saveAfter) =>
        AssertResumeMatchesAsync(() => Dataset.Range(0, 10).Shuffle(10, 7).Repeat(3), saveAfter, 100);

    [Theory]
    [MemberData(nameof(EpochBoundaries))]
    public Task RepeatedBatches_SavedAtAnEpochBoundary_Resume(int saveAfter) =>
        AssertResumeMatchesAsync(() => Dataset.Range(0, 40).Shuffle(16, 3).Batch(4).Repeat(3), saveAfter / 2, 100, SequenceComparer<long>.Instance);

    [Fact]
    public Task InfiniteRepeat_SavedMidStream_Resumes() =>
        AssertResumeMatchesAsync(() => Dataset.Range(0, 7).Shuffle(5, 11).Repeat(), 23, 200);

    [Fact]
    public async Task SavedBeforeTheFirstElement_RestoresTheWholeRun()
    {
        Func<Dataset<long>> build = () => Dataset.Range(0, 50).Shuffle(8, 1).Prefetch(3);
        await using ICheckpointableIterator<long> fresh = build().CreateIterator();
        byte[] state = await SaveAsync(fresh);
        await using ICheckpointableIterator<long> restored = await RestoreAsync(build(), state);
        Assert.Equal(await ReadAllAsync(build()), await ReadAsync(restored));
    }

    [Fact]
    public async Task SavedAfterTheLastElement_RestoresAnExhaustedIterator()
    {
        Func<Dataset<long[]>> build = () => Dataset.Range(0, 25).Shuffle(6, 2).Batch(4).Prefetch(2);
        byte[] state;
        await using (ICheckpointableIterator<long[]> iterator = build().CreateIterator())
        {
            Assert.Equal(7, (await ReadAsync(iterator)).Count);
            state = await SaveAsync(iterator);
        }

        await using ICheckpointableIterator<long[]> restored = await RestoreAsync(build(), state);
        Assert.False(await restored.MoveNextAsync());
    }

    [Fact]
    public async Task SavedAfterTheLastElementButBeforeTheEndWasSeen_RestoresAnExhaustedIterator()
    {
        Func<Dataset<long>> build = () => Dataset.Range(0, 5).Shuffle(3, 9);
        byte[] state;
        await using (ICheckpointableIterator<long> iterator = build().CreateIterator())
        {
            Assert.Equal(5, (await ReadAsync(iterator, 5)).Count);
            state = await SaveAsync(iterator);
        }

        await using ICheckpointableIterator<long> restored = await RestoreAsync(build(), state);
        Assert.False(await restored.MoveNextAsync());
    }

    public static TheoryData<string> EmptyPipelines => ["range", "list", "shuffle", "batch", "repeat", "interleave", "prefetch", "zip", "concatenate", "indexed"];

    [Theory]
    [MemberData(nameof(EmptyPipelines))]
    public async Task EmptySource_SavesAndRestoresAsEmpty(string kind)
    {
        Func<Dataset<long>> build = kind switch
        {
            "range" => () => Dataset.Range(0, 0),
            "list" => () => Dataset.FromList(Array.Empty<long>()),
            "shuffle" => () => Dataset.Range(0, 0).Shuffle(100, 1),
            "batch" => () => Dataset.Range(0, 0).Batch(4).Map(b => (long)b.Length),
            "repeat" => () => Dataset.Range(0, 0).Repeat(),
            "interleave" => () => Dataset.Range(0, 0).Interleave(x => Dataset.Range(0, 3), 2),
            "prefetch" => () => Dataset.Range(0, 0).Prefetch(4),
            "zip" => () => Dataset.Range(0, 0).Zip(Dataset.Range(0, 5)).Map(p => p.Item1),
            "concatenate" => () => Dataset.Range(0, 0).Concatenate(Dataset.FromList(Array.Empty<long>())),
            _ => () => Dataset.Indexed(RandomAccessSource.FromList(Array.Empty<long>()), 3),
        };

        Assert.Empty(await ReadAllAsync(build()));
        await AssertResumeMatchesAsync(build, 0, 10);
        await using ICheckpointableIterator<long> iterator = build().CreateIterator();
        Assert.False(await iterator.MoveNextAsync());
        byte[] state = await SaveAsync(iterator);
        await using ICheckpointableIterator<long> restored = await RestoreAsync(build(), state);
        Assert.False(await restored.MoveNextAsync());
    }

    [Fact]
    public async Task ShuffleBufferLargerThanTheData_IsAUniformPermutation_AndResumesAtEveryPoint()
    {
        Func<Dataset<long>> build = () => Dataset.Range(0, 12).Shuffle(1000, 3);
        List<long> all = await ReadAllAsync(build());
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), all.Order());
        for (int k = 0; k <= all.Count; k++)
        {
            await AssertResumeMatchesAsync(build, k, 100);
        }
    }

    [Fact]
    public async Task Prefetch_WithTheProducerRunningAheadAtCapture_LosesAndDoublesNothing()
    {
        const int Buffer = 8;
        int pulled = 0;
        Dataset<long> Build(Action onPull) => Dataset.Range(0, 100).Map(x =>
        {
            onPull();
            return x;
        }).Prefetch(Buffer);

        List<long> expected = await ReadAllAsync(Dataset.Range(0, 100));
        byte[] state;
        await using (ICheckpointableIterator<long> iterator = Build(() => Interlocked.Increment(ref pulled)).CreateIterator())
        {
            Assert.Equal(expected.Take(3), await ReadAsync(iterator, 3));

            // Wait (no timing assertion) until the producer has filled the buffer: 3 consumed + 8 buffered.
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref pulled) >= 3 + Buffer, TimeSpan.FromSeconds(30)));
            state = await SaveAsync(iterator);
            Assert.Equal(expected.Skip(3), await ReadAsync(iterator));
        }

        int pulledAfterRestore = 0;
        await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(() => Interlocked.Increment(ref pulledAfterRestore)), state);
        Assert.Equal(expected.Skip(3), await ReadAsync(restored));

        // The buffered elements came from the state: the restored input started after them.
        Assert.Equal(100 - 3 - Buffer, pulledAfterRestore);
    }

    [Fact]
    public async Task Prefetch_CaptureWhileTheProducerIsInsideAnElement_WaitsForAConsistentCut()
    {
        using var inside = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        Dataset<long> Build(bool block) => Dataset.Range(0, 20).Map(x =>
        {
            if (block && x == 5)
            {
                inside.Release();
                release.Wait();
            }

            return x;
        }).Prefetch(10);

        await using ICheckpointableIterator<long> iterator = Build(block: true).CreateIterator();
        Assert.Equal([0, 1], await ReadAsync(iterator, 2));
        await inside.WaitAsync();

        // The producer is inside element 5; capture (on another thread) must wait for it to finish that element.
        Task<byte[]> capture = Task.Run(() => SaveAsync(iterator));
        release.Release();
        byte[] state = await capture;

        await using ICheckpointableIterator<long> restored = await RestoreAsync(Build(block: false), state);
        Assert.Equal(Enumerable.Range(2, 18).Select(i => (long)i), await ReadAsync(restored));
    }

    [Fact]
    public async Task Batch_CancelledMidBatch_KeepsItsElements_InTheIteratorAndInTheState()
    {
        using var gate = new ManualResetEventSlim(false);
        Dataset<long[]> Build(bool block) => Dataset.Range(0, 10).Map(x =>
        {
            if (block && x == 5)
            {
                gate.Wait();
            }

            return x;
        }).Prefetch(1).Batch(4);

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
        Assert.Equal([[4, 5, 6, 7], [8, 9]], await ReadAsync(restored));
    }

    [Fact]
    public async Task ReadmePipeline_ResumesAtEverySavePoint()
    {
        using var folder = new TempDirectory("pipeline-readme");
        var paths = new List<string>();
        for (int f = 0; f < 5; f++)
        {
            string path = folder.Combine($"part-{f}.rec");
            RecordFileWriter.WriteAll(path, Enumerable.Range(0, 13 + f).Select(i => BitConverter.GetBytes((f * 100) + i)));
            paths.Add(path);
        }

        Func<Dataset<byte[][]>> build = () => Dataset.Files(paths)
            .Interleave(p => Dataset.Records(p), cycleLength: 4)
            .Shuffle(20, 99)
            .Batch(8)
            .Prefetch(2)
            .Repeat(2);
        List<byte[][]> all = await ReadAllAsync(build());
        Assert.Equal(2 * 75, all.Sum(b => b.Length));
        var comparer = new BatchComparer();
        for (int k = 0; k <= all.Count; k++)
        {
            await AssertResumeMatchesAsync(build, k, 1000, comparer);
        }
    }

    private sealed class BatchComparer : IEqualityComparer<byte[][]>
    {
        public bool Equals(byte[][]? x, byte[][]? y) =>
            x is not null && y is not null && x.Length == y.Length && x.Zip(y).All(p => p.First.SequenceEqual(p.Second));

        public int GetHashCode(byte[][] obj) => obj.Length;
    }
}
