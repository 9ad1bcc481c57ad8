using System.Buffers.Binary;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;

namespace EstimatorLoop;

/// <summary>A one-feature linear model trained by plain SGD; its state (weight, bias) is checkpointed as model.ckpt.</summary>
internal sealed class LinearModel(double learningRate) : IEstimatorModel<Batch>
{
    public double Weight { get; private set; }

    public double Bias { get; private set; }

    public ValueTask TrainStepAsync(Batch batch, long globalStep, CancellationToken cancellationToken = default)
    {
        double gradW = 0, gradB = 0;
        for (int i = 0; i < batch.X.Length; i++)
        {
            double error = (Weight * batch.X[i]) + Bias - batch.Y[i];
            gradW += error * batch.X[i];
            gradB += error;
        }

        Weight -= learningRate * gradW / batch.X.Length;
        Bias -= learningRate * gradB / batch.X.Length;
        return ValueTask.CompletedTask;
    }

    public async ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<Batch> batches, CancellationToken cancellationToken = default)
    {
        double squared = 0;
        long count = 0;
        await foreach (Batch batch in batches.WithCancellation(cancellationToken))
        {
            for (int i = 0; i < batch.X.Length; i++)
            {
                double error = (Weight * batch.X[i]) + Bias - batch.Y[i];
                squared += error * error;
                count++;
            }
        }

        return new Dictionary<string, double> { ["loss"] = count == 0 ? double.NaN : squared / count, ["weight"] = Weight, ["bias"] = Bias };
    }

    public ICheckpointSnapshot CaptureState()
    {
        byte[] state = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(state, Weight);
        BinaryPrimitives.WriteDoubleLittleEndian(state.AsSpan(8), Bias);
        return CheckpointSnapshots.FromBytes(state);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        byte[] buffer = new byte[16];
        await state.ReadExactlyAsync(buffer, cancellationToken);
        Weight = BinaryPrimitives.ReadDoubleLittleEndian(buffer);
        Bias = BinaryPrimitives.ReadDoubleLittleEndian(buffer.AsSpan(8));
    }
}
