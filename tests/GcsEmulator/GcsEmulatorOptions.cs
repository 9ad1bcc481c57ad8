namespace GcsEmulator;

/// <summary>Settings of an emulator instance.</summary>
public sealed class GcsEmulatorOptions
{
    /// <summary>TCP port to listen on (embedded mode); 0 picks a free port.</summary>
    public int Port { get; set; }

    /// <summary>
    /// Non-final chunks of a resumable upload must be at least this many bytes, and only whole
    /// multiples of it are persisted (Cloud Storage uses 256 KiB). Set to 1 to accept any chunk size.
    /// </summary>
    public int ResumableChunkGranularity { get; set; } = 256 * 1024;

    /// <summary>Buckets created at start-up (project "emulator").</summary>
    public IList<string> InitialBuckets { get; } = [];
}
