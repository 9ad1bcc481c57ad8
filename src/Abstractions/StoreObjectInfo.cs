namespace InputPipeline.Checkpointing;

/// <summary>Metadata of one object in an <see cref="IInputStateStore"/>.</summary>
/// <param name="Key">The object key, relative to the store's root.</param>
/// <param name="Length">The object's length in bytes.</param>
/// <param name="Version">The object's current version.</param>
/// <param name="LastModified">When the object was last written, as the store reports it.</param>
public sealed record StoreObjectInfo(string Key, long Length, StoreVersion Version, DateTimeOffset LastModified);
