using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>
/// A user function that throws inside a bulk read (the fast path) leaves inputs read from the input but not yet passed to
/// the function. A caller that catches the failure and keeps iterating may save in that window: the state must hold
/// those inputs, so the restored pipeline goes on exactly as the original does.
/// </summary>
public sealed class FailureWindowTests
{
    [Fact]
    public Task MapToTheSameType_FailingInsideABatch_StateSavedAfterTheFailure_KeepsTheUnmappedInputs() =>
        AssertSavedAfterTheFailureAsync(
            () => Dataset.Range(0, 40).Map(x => x == 17 ? throw new InvalidOperationException("boom") : x * 10).Batch(5),
            [150, 160, 180, 190, 200]);

    [Fact]
    public Task MapToAnotherType_FailingInsideABatch_StateSavedAfterTheFailure_KeepsTheUnmappedInputs() =>
        AssertSavedAfterTheFailureAsync(
            () => Dataset.Range(0, 40).Map(x => x == 17 ? throw new InvalidOperationException("boom") : $"v{x}").Batch(5),
            ["v15", "v16", "v18", "v19", "v20"]);

    [Fact]
    public Task Filter_FailingInsideABatch_StateSavedAfterTheFailure_KeepsTheUntestedInputs() =>
        AssertSavedAfterTheFailureAsync(
            () => Dataset.Range(0, 100).Filter(x => x == 23 ? throw new InvalidOperationException("boom") : x % 2 == 0).Batch(4),
            [24, 26, 28, 30]);

    [Fact]
    public Task MapFailingInsideAShuffleFill_StateSavedAfterTheFailure_KeepsTheUnmappedInputs() =>
        AssertSavedAfterTheFailureAsync(
            () => Dataset.Range(0, 3000).Map(x => x == 700 ? throw new InvalidOperationException("boom") : x).Shuffle(1000, 4).Batch(10),
            null);

    [Fact]
    public async Task AStateWithUnmappedInputs_RestoresIntoAPipelineAtAnyParallelism()
    {
        Dataset<long[]> Build(int parallelism) =>
            Dataset.Range(0, 40).Map(x => x == 17 ? throw new InvalidOperationException("boom") : x * 10, parallelism).Batch(5);
        byte[] state;
        List<long[]> rest;
        await using (ICheckpointableIterator<long[]> iterator = Build(1).CreateIterator())
        {
            await ReadAsync(iterator, 3);
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync());
            state = await SaveAsync(iterator);
            rest = await ReadAsync(iterator);
        }

        foreach (int parallelism in new[] { 1, 2, 3 })
        {
            await using ICheckpointableIterator<long[]> restored = await RestoreAsync(Build(parallelism), state);
            Assert.Equal(rest, await ReadAsync(restored), SequenceComparer<long>.Instance);
        }
    }

    [Fact]
    public async Task AStateWithUnmappedInputs_IsWrittenInVersion2_AndOnceTheyAreMapped_InVersion1Again()
    {
        await using ICheckpointableIterator<long[]> iterator =
            Dataset.Range(0, 40).Map(x => x == 17 ? throw new InvalidOperationException("boom") : x).Batch(5).CreateIterator();
        await ReadAsync(iterator, 3);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync());
        Assert.Equal(2, BitConverter.ToInt32(await SaveAsync(iterator), 4));
        await ReadAsync(iterator, 1);
        Assert.Equal(1, BitConverter.ToInt32(await SaveAsync(iterator), 4));
    }

    [Fact]
    public async Task UnmappedInputsOfATypeWithoutACodec_FailTheCapture_NamingTheType()
    {
        await using ICheckpointableIterator<long[]> iterator = Dataset.Range(0, 40)
            .Map(x => new Opaque(x))
            .Map(o => o.Value == 17 ? throw new InvalidOperationException("boom") : o.Value)
            .Batch(5)
            .CreateIterator();
        await ReadAsync(iterator, 3);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await iterator.MoveNextAsync());
        ElementCodecNotFoundException ex = Assert.Throws<ElementCodecNotFoundException>(() => iterator.CaptureState());
        Assert.Equal(typeof(Opaque), ex.ElementType);
    }

    private static async Task AssertSavedAfterTheFailureAsync<T>(Func<Dataset<T[]>> build, T[]? firstAfterTheFailure)
    {
        await using ICheckpointableIterator<T[]> iterator = build().CreateIterator();
        var before = new List<T[]>();
        while (true)
        {
            try
            {
                if (!await iterator.MoveNextAsync())
                {
                    Assert.Fail("The function never failed.");
                }

                before.Add(iterator.Current);
            }
            catch (InvalidOperationException ex) when (ex.Message == "boom")
            {
                break;
            }
        }

        byte[] state = await SaveAsync(iterator);
        List<T[]> rest = await ReadAsync(iterator);
        if (firstAfterTheFailure is not null)
        {
            Assert.Equal(firstAfterTheFailure, rest[0]);
        }

        await using ICheckpointableIterator<T[]> restored = await RestoreAsync(build(), state);
        Assert.Equal(rest, await ReadAsync(restored), SequenceComparer<T>.Instance);
    }

    private sealed record Opaque(long Value);
}
