namespace InputPipeline.Checkpointing;

/// <summary>The base of every exception InputPipeline.Checkpointing throws for a checkpoint-specific failure.</summary>
public abstract class CheckpointException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    protected CheckpointException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A store could not be reached or refused a request (network failure, authentication, missing bucket, throttling
/// after the provider's retries). The provider's own exception is kept as <see cref="Exception.InnerException"/>.
/// </summary>
public class CheckpointStoreException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="providerName">The provider, for example <c>S3</c>.</param>
    /// <param name="key">The key of the request, or <see langword="null"/> for a request not about one key.</param>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The provider's exception.</param>
    public CheckpointStoreException(string providerName, string? key, string message, Exception? innerException = null)
        : base(Format(providerName, key, message), innerException)
    {
        ProviderName = providerName;
        Key = key;
    }

    /// <summary>Gets the provider name.</summary>
    public string ProviderName { get; }

    /// <summary>Gets the key of the failed request, if it was about one key.</summary>
    public string? Key { get; }

    private static string Format(string providerName, string? key, string message) =>
        key is null ? $"{providerName} store: {message}" : $"{providerName} store, key \"{key}\": {message}";
}

/// <summary>
/// A conditional write or delete found the object in another state than required: it existed for a create-only
/// write, or its version differed for a compare-and-swap. Nothing was changed.
/// </summary>
public class CheckpointConflictException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="providerName">The provider.</param>
    /// <param name="key">The key.</param>
    /// <param name="condition">The condition that did not hold.</param>
    /// <param name="innerException">The provider's exception (for example a 412 or 409 response).</param>
    public CheckpointConflictException(string providerName, string key, WriteCondition condition, Exception? innerException = null)
        : base($"{providerName} store, key \"{key}\": the write condition {condition} did not hold; nothing was changed.", innerException)
    {
        ProviderName = providerName;
        Key = key;
        Condition = condition;
    }

    /// <summary>Gets the provider name.</summary>
    public string ProviderName { get; }

    /// <summary>Gets the key.</summary>
    public string Key { get; }

    /// <summary>Gets the condition that did not hold (for a delete: <see cref="WriteCondition.IfVersionMatches"/>).</summary>
    public WriteCondition Condition { get; }
}

/// <summary>
/// Another writer owns the chain now: a newer job claimed it (this writer is then a zombie of a replaced VM), or,
/// for a writer that had not claimed it, another job committed first. The writer has stopped saving to the chain, and
/// nothing it was saving became the latest.
/// </summary>
public class CheckpointOwnershipLostException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="chain">The chain (checkpoint base name, for example <c>input</c>).</param>
    /// <param name="stateFileKey">The chain's state file.</param>
    /// <param name="innerException">The conflict that revealed it, if any.</param>
    public CheckpointOwnershipLostException(string chain, string stateFileKey, Exception? innerException = null)
        : base($"Checkpoint chain \"{chain}\": another writer has taken \"{stateFileKey}\" over (a newer job claimed the chain, or another job committed to it first), so this writer has lost ownership and stops saving; the job that owns the chain now goes on.", innerException)
    {
        Chain = chain;
        StateFileKey = stateFileKey;
    }

    /// <summary>Gets the chain.</summary>
    public string Chain { get; }

    /// <summary>Gets the state file key.</summary>
    public string StateFileKey { get; }
}

/// <summary>A snapshot failed while it was being written, so the save it belonged to was abandoned.</summary>
public class CheckpointSaveException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="partKey">The key of the part being written.</param>
    /// <param name="innerException">The snapshot's exception.</param>
    public CheckpointSaveException(string partKey, Exception innerException)
        : base($"The snapshot for part \"{partKey}\" failed while it was written: {innerException?.Message}", innerException)
    {
        PartKey = partKey;
    }

    /// <summary>Gets the key of the part being written.</summary>
    public string PartKey { get; }
}

/// <summary>A checkpoint object is damaged: unparseable, truncated, or its checksum does not match.</summary>
public class CheckpointCorruptedException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="key">The damaged object's key, or a part name.</param>
    /// <param name="reason">What is wrong with it.</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    public CheckpointCorruptedException(string key, string reason, Exception? innerException = null)
        : base($"Checkpoint object \"{key}\" is damaged: {reason}", innerException)
    {
        Key = key;
        Reason = reason;
    }

    /// <summary>Gets the damaged object's key.</summary>
    public string Key { get; }

    /// <summary>Gets what is wrong with it.</summary>
    public string Reason { get; }
}

/// <summary>A checkpoint object was written in a format version this SDK does not know.</summary>
public class CheckpointFormatVersionException : CheckpointCorruptedException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="key">The object's key.</param>
    /// <param name="foundVersion">The version found in the object.</param>
    /// <param name="supportedVersion">The newest version this SDK reads.</param>
    public CheckpointFormatVersionException(string key, int foundVersion, int supportedVersion)
        : base(key, $"format version {foundVersion} is not supported (this SDK reads versions 1 to {supportedVersion}); it was written by a newer SDK.")
    {
        FoundVersion = foundVersion;
        SupportedVersion = supportedVersion;
    }

    /// <summary>Gets the version found.</summary>
    public int FoundVersion { get; }

    /// <summary>Gets the newest version this SDK reads.</summary>
    public int SupportedVersion { get; }
}

/// <summary>A requested checkpoint (for example the one at a given step) does not exist or is not usable.</summary>
public class CheckpointNotFoundException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="chain">The chain searched.</param>
    /// <param name="message">What was looked for and what exists.</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    public CheckpointNotFoundException(string chain, string message, Exception? innerException = null)
        : base($"Checkpoint chain \"{chain}\": {message}", innerException)
    {
        Chain = chain;
    }

    /// <summary>Gets the chain.</summary>
    public string Chain { get; }
}

/// <summary>Options are invalid: a value out of range, a missing required key, or settings that exclude each other.</summary>
public class CheckpointOptionsException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="optionName">The option (configuration key) at fault, for example <c>InputPipelineCheckpointing:SaveSteps</c>.</param>
    /// <param name="message">What is wrong and how to fix it.</param>
    public CheckpointOptionsException(string optionName, string message)
        : base($"{optionName}: {message}")
    {
        OptionName = optionName;
    }

    /// <summary>Gets the option at fault.</summary>
    public string OptionName { get; }
}

/// <summary>A restore was requested for a pipeline that has already produced elements; restoring now would silently restart or skip data.</summary>
public class PipelineAlreadyStartedException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="name">The pipeline or iterator name.</param>
    public PipelineAlreadyStartedException(string name)
        : base($"Cannot restore \"{name}\": it has already produced elements. Restore a pipeline before its first element is read (the hook does so in the first BeforeRun).")
    {
        Name = name;
    }

    /// <summary>Gets the pipeline or iterator name.</summary>
    public string Name { get; }
}

/// <summary>
/// A checkpoint does not fit what is being restored into it: it lacks a part for a registered checkpointable,
/// holds parts for checkpointables that are not registered, or was saved by a differently built pipeline.
/// Older checkpoints of the same chain would not fit either, so no fallback is attempted.
/// </summary>
public class CheckpointMismatchException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="key">The checkpoint (manifest key or part name) that does not fit.</param>
    /// <param name="mismatch">What differs, naming both sides.</param>
    public CheckpointMismatchException(string key, string mismatch)
        : base($"Checkpoint \"{key}\" does not match what is being restored: {mismatch}")
    {
        Key = key;
        Mismatch = mismatch;
    }

    /// <summary>Gets the checkpoint that does not fit.</summary>
    public string Key { get; }

    /// <summary>Gets what differs.</summary>
    public string Mismatch { get; }
}
