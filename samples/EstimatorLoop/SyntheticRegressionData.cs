using System.Buffers.Binary;
using InputPipeline.Checkpointing;

namespace EstimatorLoop;

/// <summary>A batch of (x, y) pairs.</summary>
internal sealed record Batch(double[] X, double[] Y);

/// <summary>
/// An endless, deterministic stream of batches for y = 3x + 2 + noise. Batch i is derived from (seed, i) alone, so the
/// iterator's whole state is the index of the next batch: 8 bytes.
/// </summary>
internal sealed class SyntheticRegressionData(int seed, int batchSize) : ICheckpointableIterator<Batch>
{
    private long _next;
    private bool _started;

    public Batch Current { get; private set; } = new([], []);

    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        _started = true;
        var random = new Random(HashCode.Combine(seed, _next));
        var x = new double[batchSize];
        var y = new double[batchSize];
        for (int i = 0; i < batchSize; i++)
        {
            x[i] = (random.NextDouble() * 2) - 1;
            y[i] = (3 * x[i]) + 2 + ((random.NextDouble() - 0.5) * 0.2);
        }

        Current = new Batch(x, y);
        _next++;
        return ValueTask.FromResult(true);
    }

    public ICheckpointSnapshot CaptureState()
    {
        byte[] state = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(state, _next);
        return CheckpointSnapshots.FromBytes(state);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        if (_started)
        {
            throw new PipelineAlreadyStartedException("synthetic-regression-data");
        }

        byte[] buffer = new byte[8];
        await state.ReadExactlyAsync(buffer, cancellationToken);
        _next = BinaryPrimitives.ReadInt64LittleEndian(buffer);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
