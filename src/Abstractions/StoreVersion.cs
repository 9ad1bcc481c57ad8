namespace InputPipeline.Checkpointing;

/// <summary>
/// An opaque, store-specific object version: an ETag for Azure Blob and S3, a generation for GCS, a write token
/// for the Local store. Two versions are equal when their values are equal (ordinal).
/// </summary>
public readonly record struct StoreVersion
{
    /// <summary>Creates a version from the store's token.</summary>
    /// <param name="value">The token; not null or empty.</param>
    /// <exception cref="ArgumentException"><paramref name="value"/> is null or empty.</exception>
    public StoreVersion(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        Value = value;
    }

    /// <summary>Gets the store's token.</summary>
    public string Value { get; }

    /// <summary>Returns the token.</summary>
    public override string ToString() => Value ?? string.Empty;
}
