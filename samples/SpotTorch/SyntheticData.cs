using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.Samples;

namespace SpotTorch;

/// <summary>The data directory is unusable: not written by this sample, written for another seed, damaged, or not writable (exit code 3).</summary>
internal sealed class DataDirectoryException(string message, Exception? innerException = null)
    : JobFailureException(JobExitCodes.UnusableData, message, innerException);

/// <summary>
/// A seeded synthetic classification task stored as record files: <see cref="Classes"/> classes, each a cluster around
/// its own centre in <see cref="Features"/> dimensions. A record is the label (4 bytes) and the features (float32), all
/// little-endian. Generation writes into a sibling temp folder and renames it into place only when every file and the
/// manifest are written and flushed, so a kill during generation leaves nothing under the final name that a restart
/// would trust.
/// </summary>
internal static class SyntheticData
{
    public const int Features = 64;
    public const int Classes = 10;
    public const int FileCount = 8;
    public const int RecordsPerFile = 1000;
    private const int RecordLength = 4 + (Features * sizeof(float));
    private const string ManifestName = "dataset.json";
    private const string TempMarker = ".tmp-";

    /// <summary>Writes an example's features and returns its label: the <see cref="TorchSharp"/> batch adapter's callback.</summary>
    public static long ReadExample(byte[] record, Span<float> features)
    {
        if (record.Length != RecordLength)
        {
            throw new InvalidDataException($"A record holds {record.Length} bytes, not {RecordLength}.");
        }

        for (int i = 0; i < Features; i++)
        {
            features[i] = BinaryPrimitives.ReadSingleLittleEndian(record.AsSpan(4 + (i * sizeof(float))));
        }

        return BinaryPrimitives.ReadInt32LittleEndian(record);
    }

    /// <summary>Returns the input files, generating them first when the directory does not exist.</summary>
    /// <exception cref="DataDirectoryException">The directory exists but does not hold this seed's complete data, or cannot be read or written.</exception>
    public static IReadOnlyList<string> EnsureGenerated(string dataDir, int seed)
    {
        string full = Path.GetFullPath(dataDir);
        try
        {
            RemoveStaleTempFolders(full);
            if (!Directory.Exists(full))
            {
                Generate(full, seed);
            }

            return Verify(full, seed);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException($"Training:DataDir '{full}' cannot be used: {ex.Message} Choose a directory this job can read and write.", ex);
        }
    }

    private static void Generate(string full, int seed)
    {
        string parent = Path.GetDirectoryName(full) ?? throw new DataDirectoryException($"Training:DataDir '{full}' has no parent folder.");
        Directory.CreateDirectory(parent);
        string temp = Path.Combine(parent, Path.GetFileName(full) + TempMarker + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        var random = new SplitMix64((ulong)seed);
        float[] centres = new float[Classes * Features];
        for (int i = 0; i < centres.Length; i++)
        {
            centres[i] = (random.NextFloat() * 2) - 1;
        }

        var files = new List<DatasetFile>();
        byte[] record = new byte[RecordLength];
        for (int file = 0; file < FileCount; file++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"part-{file:D2}.rec");
            string path = Path.Combine(temp, name);
            using (var writer = new RecordFileWriter(path, writeIndex: false))
            {
                for (int r = 0; r < RecordsPerFile; r++)
                {
                    int label = (int)(random.Next() % Classes);
                    BinaryPrimitives.WriteInt32LittleEndian(record, label);
                    for (int i = 0; i < Features; i++)
                    {
                        float noise = ((random.NextFloat() * 2) - 1) * 3.0f;
                        BinaryPrimitives.WriteSingleLittleEndian(record.AsSpan(4 + (i * sizeof(float))), centres[(label * Features) + i] + noise);
                    }

                    writer.Write(record);
                }

                writer.Commit();
            }

            FlushToDisk(path);
            files.Add(new DatasetFile(name, new FileInfo(path).Length, Sha256Of(path)));
        }

        string manifest = Path.Combine(temp, ManifestName);
        File.WriteAllBytes(manifest, JsonSerializer.SerializeToUtf8Bytes(new DatasetManifest(seed, files), DatasetJson.Default.DatasetManifest));
        FlushToDisk(manifest);
        try
        {
            Directory.Move(temp, full); // atomic: the data appears complete or not at all
        }
        catch (IOException) when (Directory.Exists(full))
        {
            // Another process generated it first; its copy is verified below.
            Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Removes the temp folders of runs killed during generation: they are never trusted.</summary>
    private static void RemoveStaleTempFolders(string full)
    {
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent))
        {
            return;
        }

        foreach (string stale in Directory.EnumerateDirectories(parent, Path.GetFileName(full) + TempMarker + "*"))
        {
            try
            {
                Directory.Delete(stale, recursive: true);
            }
            catch (IOException)
            {
                // Another run is generating into it right now; it cleans up after itself.
            }
        }
    }

    private static List<string> Verify(string full, int seed)
    {
        string manifestPath = Path.Combine(full, ManifestName);
        if (!File.Exists(manifestPath))
        {
            throw new DataDirectoryException($"Training:DataDir '{full}' exists but has no {ManifestName}: it was not generated by this sample. Delete it or choose another directory.");
        }

        DatasetManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(File.ReadAllBytes(manifestPath), DatasetJson.Default.DatasetManifest);
        }
        catch (JsonException ex)
        {
            throw new DataDirectoryException($"'{manifestPath}' is damaged ({ex.Message}). Delete '{full}' to regenerate the data.");
        }

        if (manifest?.Files is not { Count: > 0 })
        {
            throw new DataDirectoryException($"'{manifestPath}' is empty. Delete '{full}' to regenerate the data.");
        }

        if (manifest.Seed != seed)
        {
            throw new DataDirectoryException($"Training:DataDir '{full}' holds data for seed {manifest.Seed}, not Training:Seed {seed}. Use the same seed, or another directory.");
        }

        var paths = new List<string>(manifest.Files.Count);
        foreach (DatasetFile file in manifest.Files)
        {
            string path = Path.Combine(full, file.Name);
            if (!File.Exists(path) || new FileInfo(path).Length != file.Length || Sha256Of(path) != file.Sha256)
            {
                throw new DataDirectoryException($"'{path}' is missing or does not match {ManifestName} (changed or damaged). Delete '{full}' to regenerate the data.");
            }

            paths.Add(path);
        }

        return paths;
    }

    private static string Sha256Of(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void FlushToDisk(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>SplitMix64: a tiny, fully specified generator, so the data depends on the seed alone.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>A float in [0, 1) from the top 24 bits.</summary>
        public float NextFloat() => (Next() >> 40) * (1.0f / (1 << 24));
    }
}

internal sealed record DatasetFile(string Name, long Length, string Sha256);

internal sealed record DatasetManifest(int Seed, IReadOnlyList<DatasetFile> Files);

[System.Text.Json.Serialization.JsonSerializable(typeof(DatasetManifest))]
internal sealed partial class DatasetJson : System.Text.Json.Serialization.JsonSerializerContext;
