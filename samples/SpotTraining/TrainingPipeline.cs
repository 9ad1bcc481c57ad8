using System.Globalization;
using System.Security.Cryptography;
using InputPipeline.Checkpointing.Pipeline;

namespace SpotTraining;

/// <summary>
/// The sample's input pipeline: the input files interleaved 4 at a time (read concurrently), each line decoded and
/// checked (in parallel), repeated over epochs, shuffled with a seeded buffer, batched and prefetched. Its batches, and so
/// the BatchLog, do not depend on <see cref="TrainingOptions.Parallelism"/>, and a checkpoint saved at one parallelism
/// restores at another.
/// </summary>
internal static class TrainingPipeline
{
    public const int CycleLength = 4;
    public const int BlockLength = 2;
    public const int ShuffleBuffer = 1024;
    public const int BatchSize = 32;
    public const int PrefetchBatches = 4;

    public static Dataset<string[]> Build(IReadOnlyList<string> files, TrainingOptions training)
    {
        int seed = training.Seed;
        return Dataset.Files(files)
            .Interleave(path => Dataset.TextLines(path), CycleLength, BlockLength, training.Parallelism)
            .Map(line => Decode(line, seed), training.Parallelism, name: "decode")
            .Repeat()
            .Shuffle(ShuffleBuffer, (ulong)training.Seed)
            .Batch(BatchSize, dropRemainder: true)
            .Prefetch(PrefetchBatches);
    }

    /// <summary>
    /// The decode step: parses a line <c>f&lt;file&gt;-r&lt;line&gt;-&lt;16 hex digits&gt;</c> and checks its digits against
    /// the SHA-256 that generated them (see <see cref="SyntheticData"/>), a few microseconds of CPU per line, and returns
    /// the line as the training example.
    /// </summary>
    /// <exception cref="InvalidDataException">The line is not one the generator wrote for this seed.</exception>
    public static string Decode(string line, int seed)
    {
        if (line.Length != 3 + 1 + 6 + 1 + 16 || line[0] != 'f' || line[3] != '-' || line[4] != 'r' || line[10] != '-'
            || !int.TryParse(line.AsSpan(1, 2), NumberStyles.None, CultureInfo.InvariantCulture, out int file)
            || !int.TryParse(line.AsSpan(5, 5), NumberStyles.None, CultureInfo.InvariantCulture, out int row))
        {
            throw new InvalidDataException($"Not a line of the synthetic data: \"{line}\".");
        }

        if (!line.AsSpan(11).SequenceEqual(SyntheticData.Digest(seed, file, row)))
        {
            throw new InvalidDataException($"Line \"{line}\" does not match its digest for seed {seed}.");
        }

        return line;
    }
}
