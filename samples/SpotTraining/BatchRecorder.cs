using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;

namespace SpotTraining;

/// <summary>
/// The sample's "model": it trains on a batch by hashing it and (when Training:BatchLog is set) appending
/// <c>&lt;step&gt; &lt;sha256&gt;</c> to the batch log, flushed per line. Its state — steps trained and a running digest —
/// is checkpointed as model.ckpt, so a restore is checked end to end.
/// </summary>
internal sealed class BatchRecorder : IEstimatorModel<string[]>, IDisposable
{
    private readonly StreamWriter? _log;
    private readonly int _stepDelayMs;
    private long _stepsTrained;
    private ulong _digest;

    public BatchRecorder(string? batchLogPath, int stepDelayMs)
    {
        _stepDelayMs = stepDelayMs;
        if (!string.IsNullOrEmpty(batchLogPath))
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(batchLogPath));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            _log = new StreamWriter(new FileStream(batchLogPath, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { AutoFlush = false };
        }
    }

    public long StepsTrained => _stepsTrained;

    /// <summary>The canonical bytes of a batch: each element in UTF-8 followed by a line feed.</summary>
    public static byte[] CanonicalBytes(string[] batch) => Encoding.UTF8.GetBytes(string.Concat(batch.Select(e => e + "\n")));

    public async ValueTask TrainStepAsync(string[] batch, long globalStep, CancellationToken cancellationToken = default)
    {
        byte[] hash = SHA256.HashData(CanonicalBytes(batch));
        if (_stepDelayMs > 0)
        {
            await Task.Delay(_stepDelayMs, cancellationToken);
        }

        _digest = (_digest * 1_099_511_628_211UL) ^ BinaryPrimitives.ReadUInt64LittleEndian(hash);
        _stepsTrained++;
        if (_log is not null)
        {
            await _log.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"{globalStep} {Convert.ToHexStringLower(hash)}\n"));
            await _log.FlushAsync(cancellationToken);
        }
    }

    public ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<string[]> batches, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyDictionary<string, double>>(new Dictionary<string, double> { ["steps"] = _stepsTrained });

    public ICheckpointSnapshot CaptureState()
    {
        byte[] state = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(state, _stepsTrained);
        BinaryPrimitives.WriteUInt64LittleEndian(state.AsSpan(8), _digest);
        return CheckpointSnapshots.FromBytes(state);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        byte[] buffer = new byte[16];
        try
        {
            await state.ReadExactlyAsync(buffer, cancellationToken);
        }
        catch (EndOfStreamException ex)
        {
            throw new CheckpointCorruptedException("model", "the model state is shorter than 16 bytes.", ex);
        }

        _stepsTrained = BinaryPrimitives.ReadInt64LittleEndian(buffer);
        _digest = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8));
    }

    public void Dispose() => _log?.Dispose();
}
