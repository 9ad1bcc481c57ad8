namespace InputPipeline.Checkpointing.Local;

/// <summary>
/// Options of a <see cref="LocalInputStateStore"/>, bound from the <c>InputPipelineCheckpointing:Local</c>
/// configuration section.
/// </summary>
public sealed class LocalStoreOptions
{
    /// <summary>The default root directory: <c>checkpoints</c>, relative to the current directory.</summary>
    public const string DefaultPath = "checkpoints";

    /// <summary>The default time a write waits for the lock of its key: 30 seconds.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default age after which a temp file left by a killed process is deleted: one hour.</summary>
    public static readonly TimeSpan DefaultStaleTempFileAge = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets the root directory of the store; relative paths are resolved against the current directory
    /// when the store is created. The directory is created on the first write. Default <see cref="DefaultPath"/>.
    /// </summary>
    public string Path { get; set; } = DefaultPath;

    /// <summary>
    /// Gets or sets how long a write or delete waits for the exclusive lock of its key (held by another writer of
    /// the same key, in this or another process) before it fails with <see cref="CheckpointStoreException"/>.
    /// Greater than zero. Default <see cref="DefaultLockTimeout"/>.
    /// </summary>
    public TimeSpan LockTimeout { get; set; } = DefaultLockTimeout;

    /// <summary>
    /// Gets or sets how old a temp file must be before the store deletes it as the leftover of a killed writer.
    /// The store looks for such files once, on its first write. Greater than zero. Default <see cref="DefaultStaleTempFileAge"/>.
    /// </summary>
    public TimeSpan StaleTempFileAge { get; set; } = DefaultStaleTempFileAge;

    /// <summary>
    /// Gets or sets whether create-only writes (<see cref="WriteCondition.IfAbsent"/>: a checkpoint's parts and its
    /// manifest) are flushed to disk later, together, by the next write that replaces an object (the checkpoint's
    /// commit), instead of one by one before each returns. Default <see langword="true"/>: a save then waits for the
    /// disk once for all its create-only files and once for its commit, instead of once per file. A create-only
    /// object is visible to readers as soon as its write returns either way, and survives a killed process; only a
    /// power loss or kernel crash before the next commit can lose it, and no committed state file refers to such an
    /// object, so a restore never sees the loss. Set <see langword="false"/> to flush every write before it returns.
    /// </summary>
    public bool DeferCreateOnlyFlush { get; set; } = true;

    /// <summary>Checks the options.</summary>
    /// <exception cref="CheckpointOptionsException">An option is missing or out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new CheckpointOptionsException("InputPipelineCheckpointing:Local:Path", "the root directory of the Local store is not set.");
        }

        if (Path.Contains('\0', StringComparison.Ordinal))
        {
            throw new CheckpointOptionsException("InputPipelineCheckpointing:Local:Path", "the root directory contains a NUL character.");
        }

        if (LockTimeout <= TimeSpan.Zero)
        {
            throw new CheckpointOptionsException("InputPipelineCheckpointing:Local:LockTimeout", $"must be greater than zero; it is {LockTimeout}.");
        }

        if (StaleTempFileAge <= TimeSpan.Zero)
        {
            throw new CheckpointOptionsException("InputPipelineCheckpointing:Local:StaleTempFileAge", $"must be greater than zero; it is {StaleTempFileAge}.");
        }
    }
}
