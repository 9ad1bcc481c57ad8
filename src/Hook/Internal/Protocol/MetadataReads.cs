namespace InputPipeline.Checkpointing.Internal;

/// <summary>Reads of the small JSON objects of a chain (state files and manifests), bounded in size.</summary>
internal static class MetadataReads
{
    /// <summary>Reads the whole object, or returns <see langword="null"/> when it does not exist.</summary>
    public static async Task<byte[]?> ReadAllAsync(IInputStateStore store, string key, CancellationToken cancellationToken)
    {
        StoreReadResult? read = await store.ReadAsync(key, 0, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return null;
        }

        await using (read.ConfigureAwait(false))
        {
            return await ReadToEndAsync(read, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <exception cref="CheckpointCorruptedException">The object is larger than <see cref="CheckpointStateFile.MaxLength"/>.</exception>
    public static async Task<byte[]> ReadToEndAsync(StoreReadResult read, CancellationToken cancellationToken)
    {
        if (read.Info.Length > CheckpointStateFile.MaxLength)
        {
            throw new CheckpointCorruptedException(read.Info.Key, $"it is {read.Info.Length} bytes long, more than a manifest or state file can be ({CheckpointStateFile.MaxLength} bytes).");
        }

        using var buffer = new MemoryStream((int)Math.Max(0, read.RemainingLength));
        await read.Content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    /// <summary>Lists the keys under <paramref name="prefix"/>.</summary>
    public static async Task<List<string>> ListKeysAsync(IInputStateStore store, string prefix, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (StoreObjectInfo info in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(info.Key);
        }

        return keys;
    }
}
