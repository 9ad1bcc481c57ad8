using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace InputPipeline.Checkpointing.TorchSharp;

/// <summary>Writes one example's features into <paramref name="features"/> and returns its class label.</summary>
/// <typeparam name="TExample">The example type, for example the <c>byte[]</c> of a record.</typeparam>
/// <param name="example">The example.</param>
/// <param name="features">Where its features go: exactly the feature count of the batch.</param>
/// <returns>The example's label (a class index).</returns>
public delegate long ExampleWriter<in TExample>(TExample example, Span<float> features);

/// <summary>
/// A batch of examples as tensors: the inputs (<c>float32</c>, one row per example) and the targets (<c>int64</c> class
/// labels, one per example). Disposing it disposes both tensors.
/// </summary>
public sealed class TensorBatch : IDisposable
{
    /// <summary>Creates a batch over two tensors; the batch owns them from now on.</summary>
    /// <param name="input">The inputs, with the examples along the first dimension.</param>
    /// <param name="target">The targets, with the examples along the first dimension.</param>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="target"/> is null.</exception>
    /// <exception cref="ArgumentException">A tensor has no dimension, or their first dimensions differ.</exception>
    public TensorBatch(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (input.Dimensions == 0 || target.Dimensions == 0 || input.shape[0] != target.shape[0])
        {
            throw new ArgumentException($"The inputs ([{string.Join(", ", input.shape)}]) and the targets ([{string.Join(", ", target.shape)}]) must hold the same number of examples along their first dimension.", nameof(target));
        }

        Input = input;
        Target = target;
    }

    /// <summary>Gets the inputs.</summary>
    public Tensor Input { get; }

    /// <summary>Gets the targets.</summary>
    public Tensor Target { get; }

    /// <summary>Gets the number of examples.</summary>
    public long Count => Input.shape[0];

    /// <summary>
    /// Builds a batch from examples: a <c>[count, featureCount]</c> <c>float32</c> input tensor and a <c>[count]</c>
    /// <c>int64</c> target tensor, on the CPU, filled by <paramref name="write"/> in the examples' order.
    /// </summary>
    /// <typeparam name="TExample">The example type.</typeparam>
    /// <param name="examples">The examples; at least one.</param>
    /// <param name="featureCount">The number of features per example; at least 1.</param>
    /// <param name="write">Writes an example's features and returns its label.</param>
    /// <returns>The batch; the caller (or the iterator that yields it) disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> or <paramref name="write"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="examples"/> is empty or <paramref name="featureCount"/> is less than 1.</exception>
    public static TensorBatch FromExamples<TExample>(IReadOnlyList<TExample> examples, int featureCount, ExampleWriter<TExample> write)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(write);
        ArgumentOutOfRangeException.ThrowIfZero(examples.Count, nameof(examples));
        ArgumentOutOfRangeException.ThrowIfLessThan(featureCount, 1);
        float[] features = new float[checked(examples.Count * featureCount)];
        long[] labels = new long[examples.Count];
        for (int i = 0; i < examples.Count; i++)
        {
            labels[i] = write(examples[i], features.AsSpan(i * featureCount, featureCount));
        }

        Tensor input = torch.tensor(features, [examples.Count, featureCount]);
        try
        {
            return new TensorBatch(input, torch.tensor(labels));
        }
        catch
        {
            input.Dispose();
            throw;
        }
    }

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Input.Dispose();
        Target.Dispose();
    }
}
