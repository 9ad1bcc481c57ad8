using InputPipeline.Checkpointing.Pipeline;
using TorchSharp;

namespace InputPipeline.Checkpointing.TorchSharp.Tests;

/// <summary>The adapter from a checkpointable pipeline of example batches to batches of tensors.</summary>
public sealed class TensorBatchTests
{
    [Fact]
    public void FromExamples_LaysOutOneRowPerExample_AndOneLabelEach()
    {
        using TensorBatch batch = TensorBatch.FromExamples([3L, 4L], TestJob.Features, TestJob.WriteExample);

        float[] expected = new float[2 * TestJob.Features];
        TestJob.WriteExample(3, expected.AsSpan(0, TestJob.Features));
        TestJob.WriteExample(4, expected.AsSpan(TestJob.Features));
        Assert.Equal([2L, TestJob.Features], batch.Input.shape);
        Assert.Equal(torch.ScalarType.Float32, batch.Input.dtype);
        Assert.Equal(expected, batch.Input.data<float>().ToArray());
        Assert.Equal(torch.ScalarType.Int64, batch.Target.dtype);
        Assert.Equal([0L, 1L], batch.Target.data<long>().ToArray());
        Assert.Equal(2, batch.Count);
    }

    [Fact]
    public void BadArguments_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorBatch.FromExamples(Array.Empty<long>(), 4, TestJob.WriteExample));
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorBatch.FromExamples([1L], 0, TestJob.WriteExample));
        Assert.Throws<ArgumentNullException>(() => TensorBatch.FromExamples<long>([1L], 4, null!));
        Assert.Throws<ArgumentException>(() => new TensorBatch(torch.zeros(3, 2), torch.zeros(4, torch.ScalarType.Int64)));
        Assert.Throws<ArgumentNullException>(() => Dataset.Range(0, 4).Batch(2).CreateTensorIterator<long, TensorBatch>(null!));
    }

    [Fact]
    public async Task TheIterator_RestoresWhereItsCaptureWas_AndDisposesEachBatchWhenItMovesOn()
    {
        Dataset<long[]> pipeline = Dataset.Range(0, 100).Repeat().Shuffle(32, 3).Batch(4).Prefetch(2);
        await using ICheckpointableIterator<TensorBatch> first = pipeline.CreateTensorIterator(b => TensorBatch.FromExamples(b, TestJob.Features, TestJob.WriteExample));
        for (int i = 0; i < 5; i++)
        {
            Assert.True(await first.MoveNextAsync());
        }

        TensorBatch fifth = first.Current;
        using ICheckpointSnapshot snapshot = first.CaptureState();
        var saved = new MemoryStream();
        await snapshot.WriteToAsync(saved);
        var expected = new List<long[]>();
        for (int i = 0; i < 6; i++)
        {
            Assert.True(await first.MoveNextAsync());
            expected.Add(first.Current.Target.data<long>().ToArray());
        }

        await using ICheckpointableIterator<TensorBatch> resumed = pipeline.CreateTensorIterator(b => TensorBatch.FromExamples(b, TestJob.Features, TestJob.WriteExample));
        saved.Position = 0;
        await resumed.RestoreStateAsync(saved);
        var actual = new List<long[]>();
        for (int i = 0; i < 6; i++)
        {
            Assert.True(await resumed.MoveNextAsync());
            actual.Add(resumed.Current.Target.data<long>().ToArray());
        }

        Assert.True(fifth.Input.IsInvalid);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task Current_BeforeTheFirstBatchAndAfterTheEnd_IsAnError()
    {
        await using ICheckpointableIterator<TensorBatch> iterator = Dataset.Range(0, 4).Batch(4).CreateTensorIterator(b => TensorBatch.FromExamples(b, 2, TestJob.WriteExample));

        Assert.Throws<InvalidOperationException>(() => iterator.Current);
        Assert.True(await iterator.MoveNextAsync());
        Assert.Equal(4, iterator.Current.Count);
        Assert.False(await iterator.MoveNextAsync());
        Assert.Throws<InvalidOperationException>(() => iterator.Current);
    }
}
