using CsCheck;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>
/// Property tests over random pipelines and random save points: restore-then-continue equals the uninterrupted run,
/// through a real byte round-trip into a freshly built pipeline.
/// </summary>
public sealed class ResumePropertyTests : IDisposable
{
    private const int Limit = 150;
    private readonly TempDirectory _folder = new("pipeline-props");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public Task RandomPipeline_RestoreThenContinue_EqualsUninterruptedRun() =>
        Gen.Select(SpecGen.Pipeline(3), Gen.Int[0, Limit + 10])
            .SampleAsync(
                (spec, saveAfter) => AssertResumeMatchesAsync(() => spec.Build(_folder.Path), saveAfter, Limit),
                iter: 1000,
                threads: 2);

    [Fact]
    public Task RandomPipeline_SavedBeforeTheFirstElement_RestoresToTheStart() =>
        SpecGen.Pipeline(3)
            .SampleAsync(spec => AssertResumeMatchesAsync(() => spec.Build(_folder.Path), 0, Limit), iter: 100, threads: 2);

    [Fact]
    public Task RandomPipeline_SavedAfterTheLastElement_RestoresExhausted() =>
        SpecGen.Pipeline(2)
            .SampleAsync(
                async spec =>
                {
                    List<long> all = await ReadAllAsync(spec.Build(_folder.Path), 10_000);
                    await AssertResumeMatchesAsync(() => spec.Build(_folder.Path), all.Count, 10_001);
                },
                iter: 100,
                threads: 2);

    [Fact]
    public Task RandomPipeline_SavedAndRestoredTwice_StillEqualsUninterruptedRun() =>
        Gen.Select(SpecGen.Pipeline(3), Gen.Int[0, 60], Gen.Int[0, 60])
            .SampleAsync(
                async (spec, first, second) =>
                {
                    List<long> expected = await ReadAllAsync(spec.Build(_folder.Path), Limit);
                    int k1 = Math.Min(first, expected.Count);
                    int k2 = Math.Min(k1 + second, expected.Count);

                    byte[] state1;
                    await using (ICheckpointableIterator<long> run1 = spec.Build(_folder.Path).CreateIterator())
                    {
                        Assert.Equal(expected.Take(k1), await ReadAsync(run1, k1));
                        state1 = await SaveAsync(run1);
                    }

                    byte[] state2;
                    await using (ICheckpointableIterator<long> run2 = await RestoreAsync(spec.Build(_folder.Path), state1))
                    {
                        Assert.Equal(expected.Skip(k1).Take(k2 - k1), await ReadAsync(run2, k2 - k1));
                        state2 = await SaveAsync(run2);
                    }

                    await using ICheckpointableIterator<long> run3 = await RestoreAsync(spec.Build(_folder.Path), state2);
                    Assert.Equal(expected.Skip(k2), await ReadAsync(run3, expected.Count - k2));
                },
                iter: 200,
                threads: 2);

    [Fact]
    public Task RandomPipelineWithoutPrefetch_StateBytes_AreDeterministic_AndSurviveRestoreUnchanged() =>
        Gen.Select(SpecGen.Pipeline(3).Where(s => !s.HasPrefetch), Gen.Int[0, 80])
            .SampleAsync(
                async (spec, saveAfter) =>
                {
                    byte[] a;
                    byte[] b;
                    await using (ICheckpointableIterator<long> first = spec.Build(_folder.Path).CreateIterator())
                    {
                        await ReadAsync(first, saveAfter);
                        a = await SaveAsync(first);
                    }

                    await using (ICheckpointableIterator<long> second = spec.Build(_folder.Path).CreateIterator())
                    {
                        await ReadAsync(second, saveAfter);
                        b = await SaveAsync(second);
                    }

                    Assert.Equal(a, b);
                    await using ICheckpointableIterator<long> restored = await RestoreAsync(spec.Build(_folder.Path), a);
                    Assert.Equal(a, await SaveAsync(restored));
                },
                iter: 200,
                threads: 2);

    [Fact]
    public Task RandomParallelPipeline_RestoreThenContinue_EqualsTheSequentialPipelinesRun() =>
        Gen.Select(SpecGen.Pipeline(3).Where(IsParallel), Gen.Int[0, Limit + 10])
            .SampleAsync(
                async (spec, saveAfter) =>
                {
                    // The sequential pipeline's run is the reference: the parallel one must equal it, uninterrupted and resumed.
                    List<long> expected = await ReadAllAsync(spec.Build(_folder.Path, sequential: true), Limit);
                    Assert.Equal(expected, await ReadAllAsync(spec.Build(_folder.Path), Limit));
                    await AssertResumeMatchesAsync(() => spec.Build(_folder.Path), saveAfter, Limit);

                    // The parallelism is not part of the state: the parallel pipeline's state restores into the sequential one.
                    int k = Math.Min(saveAfter, expected.Count);
                    byte[] state;
                    await using (ICheckpointableIterator<long> parallel = spec.Build(_folder.Path).CreateIterator())
                    {
                        await ReadAsync(parallel, k);
                        state = await SaveAsync(parallel);
                    }

                    await using ICheckpointableIterator<long> sequential = await RestoreAsync(spec.Build(_folder.Path, sequential: true), state);
                    Assert.Equal(expected.Skip(k), await ReadAsync(sequential, expected.Count - k));
                },
                iter: 300,
                threads: 2);

    private static bool IsParallel(Spec spec) => spec switch
    {
        MapSpec m => m.Parallelism > 0 || IsParallel(m.Input),
        FilterSpec f => f.Parallelism > 0 || IsParallel(f.Input),
        InterleaveSpec i => i.Parallelism > 0 || IsParallel(i.Input),
        BatchSpec b => IsParallel(b.Input),
        ShuffleSpec s => IsParallel(s.Input),
        RepeatSpec r => IsParallel(r.Input),
        TakeSpec t => IsParallel(t.Input),
        SkipSpec k => IsParallel(k.Input),
        ShardSpec h => IsParallel(h.Input),
        PrefetchSpec p => IsParallel(p.Input),
        ZipSpec z => IsParallel(z.First) || IsParallel(z.Second),
        ConcatenateSpec c => IsParallel(c.First) || IsParallel(c.Second),
        _ => false,
    };
}
