namespace InputPipeline.Checkpointing;

/// <summary>
/// The storage primitives a checkpoint store provides: conditional writes, versioned reads, listing by prefix
/// and (optionally conditional) deletes of opaque objects under the store's configured root.
/// </summary>
/// <remarks>
/// <para>
/// A provider implements only these primitives. Everything else — the commit protocol, retention, fallback and
/// fencing — lives once in the checkpoint manager. Keys are relative, <c>/</c>-separated names that satisfy
/// <see cref="StoreKey.Validate(string, string)"/>; a provider maps them under its own root, container or prefix.
/// Callers never use one key as a <c>/</c>-prefix of another (<c>a</c> and <c>a/b</c>), which a file system cannot hold.
/// </para>
/// <para>
/// Providers translate their SDK's failures: a failed write or delete condition becomes
/// <see cref="CheckpointConflictException"/>; an unreachable store, a refused request or an exhausted retry
/// budget becomes <see cref="CheckpointStoreException"/>. No SDK exception type crosses this interface, except
/// <see cref="OperationCanceledException"/> when <c>cancellationToken</c> is cancelled.
/// </para>
/// </remarks>
public interface IInputStateStore
{
    /// <summary>Gets the provider name used in configuration and in error messages, for example <c>Local</c> or <c>S3</c>.</summary>
    string ProviderName { get; }

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="key"/> if <paramref name="condition"/> holds, atomically:
    /// a reader sees either the previous object or the whole new one, never a part of it.
    /// </summary>
    /// <param name="key">The object key; see <see cref="StoreKey.Validate(string, string)"/>.</param>
    /// <param name="content">The content, read once from its current position to its end. The store does not dispose it.</param>
    /// <param name="condition">When the write may happen: always, only if the key is absent, or only if its version matches.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write leaves no visible object.</param>
    /// <returns>The version of the object written.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key.</exception>
    /// <exception cref="CheckpointConflictException">The condition did not hold; nothing was written.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the write.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default);

    /// <summary>Opens <paramref name="key"/> for reading, from <paramref name="offset"/> to its end.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="offset">The first byte to return; 0 (the default) reads the whole object. An offset at or past the end yields empty content.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The content and the object's metadata, or <see langword="null"/> when the key does not exist. The caller disposes the result.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default);

    /// <summary>Lists the objects whose keys start with <paramref name="prefix"/>, in no particular order, paging as needed.</summary>
    /// <param name="prefix">A key prefix; the empty string lists every object under the store's root.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The objects' keys, lengths, versions and modification times.</returns>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the listing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes <paramref name="key"/>, optionally only if its version is <paramref name="ifVersion"/>.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="ifVersion">When set, delete only if the object's current version matches; <see langword="null"/> (the default) deletes unconditionally.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns><see langword="true"/> if an object was deleted; <see langword="false"/> if the key did not exist.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key.</exception>
    /// <exception cref="CheckpointConflictException">The object exists but its version differs from <paramref name="ifVersion"/>.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the delete.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default);
}
