using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.TorchSharp.Internal;

namespace InputPipeline.Checkpointing.TorchSharp;

/// <summary>Turns a checkpointable pipeline of example batches into batches of tensors.</summary>
public static class TensorDatasetExtensions
{
    /// <summary>
    /// Creates an iterator over <paramref name="batches"/> that turns each batch of examples into tensors with
    /// <paramref name="toTensors"/>. The iterator is as checkpointable as the pipeline's own (its state is the pipeline's:
    /// the tensors are made from each element again, so register it with the session like any iterator). The conversion
    /// runs on the thread that calls <c>MoveNextAsync</c>, after the pipeline's prefetch; the iterator owns each batch
    /// and disposes it when it moves on or is disposed, so a step must not keep a batch's tensors (clone what it keeps).
    /// </summary>
    /// <typeparam name="TExample">The example type the pipeline's batches hold.</typeparam>
    /// <typeparam name="TBatch">The tensor batch type, for example <see cref="TensorBatch"/>.</typeparam>
    /// <param name="batches">The pipeline, ending in <c>Batch</c> (and usually <c>Prefetch</c>).</param>
    /// <param name="toTensors">Builds a batch of tensors from a batch of examples, for example with <see cref="TensorBatch.FromExamples"/>.</param>
    /// <param name="name">The iterator's name in errors. Default <see cref="Dataset.DefaultIteratorName"/>.</param>
    /// <returns>The iterator; dispose it when training ends.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="batches"/> or <paramref name="toTensors"/> is null.</exception>
    public static ICheckpointableIterator<TBatch> CreateTensorIterator<TExample, TBatch>(this Dataset<TExample[]> batches, Func<TExample[], TBatch> toTensors, string name = Dataset.DefaultIteratorName)
        where TBatch : IDisposable
    {
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(toTensors);
        return new TensorBatchIterator<TExample[], TBatch>(batches.CreateIterator(name), toTensors);
    }
}
