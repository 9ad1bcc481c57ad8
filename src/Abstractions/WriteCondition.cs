namespace InputPipeline.Checkpointing;

/// <summary>The kinds of <see cref="WriteCondition"/>.</summary>
public enum WriteConditionKind
{
    /// <summary>Write unconditionally, replacing any existing object.</summary>
    None = 0,

    /// <summary>Write only if no object exists at the key (create-only; <c>If-None-Match: *</c>, <c>ifGenerationMatch=0</c>).</summary>
    IfAbsent = 1,

    /// <summary>Write only if the object exists with the given version (compare-and-swap; <c>If-Match</c>, <c>ifGenerationMatch=N</c>).</summary>
    IfVersionMatches = 2,
}

/// <summary>When a write to an <see cref="IInputStateStore"/> may happen.</summary>
public readonly record struct WriteCondition
{
    private WriteCondition(WriteConditionKind kind, StoreVersion? version)
    {
        Kind = kind;
        Version = version;
    }

    /// <summary>Gets an unconditional write.</summary>
    public static WriteCondition None => default;

    /// <summary>Gets a create-only write: it fails with <see cref="CheckpointConflictException"/> if the key exists.</summary>
    public static WriteCondition IfAbsent => new(WriteConditionKind.IfAbsent, null);

    /// <summary>Gets a compare-and-swap write: it fails with <see cref="CheckpointConflictException"/> unless the key exists with <paramref name="version"/>.</summary>
    /// <param name="version">The version the object must have.</param>
    /// <returns>The condition.</returns>
    public static WriteCondition IfVersionMatches(StoreVersion version)
    {
        ArgumentException.ThrowIfNullOrEmpty(version.Value, nameof(version));
        return new WriteCondition(WriteConditionKind.IfVersionMatches, version);
    }

    /// <summary>Gets the kind of condition.</summary>
    public WriteConditionKind Kind { get; }

    /// <summary>Gets the required version when <see cref="Kind"/> is <see cref="WriteConditionKind.IfVersionMatches"/>; otherwise <see langword="null"/>.</summary>
    public StoreVersion? Version { get; }

    /// <summary>Returns a readable form, for example <c>if-version-matches "0x8DC…"</c>.</summary>
    public override string ToString() => Kind switch
    {
        WriteConditionKind.IfAbsent => "if-absent",
        WriteConditionKind.IfVersionMatches => $"if-version-matches \"{Version}\"",
        _ => "none",
    };
}
