namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>Whether a chain's state file could be read.</summary>
internal enum StateFileStatus
{
    /// <summary>It exists and parses.</summary>
    Ok,

    /// <summary>It does not exist; the chain's checkpoints are found by listing its manifests.</summary>
    Missing,

    /// <summary>It exists but does not parse (or was written by a newer SDK); the checkpoint manager rebuilds the chain from its manifests.</summary>
    Damaged,
}

/// <summary>One chain (pipeline) found in a store.</summary>
/// <param name="Name">The chain, for example <c>input</c>, <c>input_worker_1</c> or <c>model</c>.</param>
/// <param name="StateFileKey">Its state file (see <see cref="CheckpointKeyLayout"/>): <c>checkpoint_&lt;chain&gt;</c>, or <c>checkpoint</c> for the model chain.</param>
/// <param name="StateFile">Whether the state file could be read.</param>
/// <param name="StateFileProblem">Why the state file is damaged, when it is.</param>
/// <param name="ManifestCount">The number of manifests of the chain in the store (retained or not).</param>
/// <param name="ObjectCount">The number of manifests and parts of the chain in the store.</param>
internal sealed record ChainInfo(string Name, string StateFileKey, StateFileStatus StateFile, string? StateFileProblem, int ManifestCount, int ObjectCount)
{
    /// <summary>Gets whether the chain can hold checkpoints: a readable state file, or manifests to rebuild it from.</summary>
    public bool HasCheckpoints => StateFile != StateFileStatus.Missing || ManifestCount > 0;

    /// <summary>Creates the checkpoint manager of the chain, the only code that reads, commits or collects it.</summary>
    public CheckpointManager CreateManager(IInputStateStore store, Action<CheckpointManagerOptions>? configure = null, TimeProvider? timeProvider = null)
    {
        var options = new CheckpointManagerOptions { Chain = Name, StateFileKey = StateFileKey };
        configure?.Invoke(options);
        return new CheckpointManager(store, options, logger: null, timeProvider);
    }
}

/// <summary>
/// The chains of a store, found by listing it once: its state files and the manifests and parts of each chain, all
/// recognised by <see cref="CheckpointKeyLayout"/>, the layout the checkpoint manager writes.
/// </summary>
internal sealed class ChainCatalog
{
    private ChainCatalog(OpenedStore store, IReadOnlyList<ChainInfo> chains, IReadOnlyDictionary<string, StoreObjectInfo> objects)
    {
        Store = store;
        Chains = chains;
        Objects = objects;
    }

    public OpenedStore Store { get; }

    /// <summary>Gets every chain, ordered by name.</summary>
    public IReadOnlyList<ChainInfo> Chains { get; }

    /// <summary>Gets every top-level object of the store, by key.</summary>
    public IReadOnlyDictionary<string, StoreObjectInfo> Objects { get; }

    /// <summary>Lists <paramref name="store"/> and reads its state files.</summary>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the listing.</exception>
    public static async Task<ChainCatalog> LoadAsync(OpenedStore store, CancellationToken cancellationToken)
    {
        var objects = new Dictionary<string, StoreObjectInfo>(StringComparer.Ordinal);
        await foreach (StoreObjectInfo info in store.Store.ListAsync(string.Empty, cancellationToken).ConfigureAwait(false))
        {
            // The SDK writes no key with a '/'; deeper objects belong to other stores nested under this one.
            if (!info.Key.Contains('/', StringComparison.Ordinal))
            {
                objects[info.Key] = info;
            }
        }

        var manifests = new Dictionary<string, int>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string key in objects.Keys)
        {
            if (!CheckpointKeyLayout.TryParseObjectKey(key, out CheckpointObjectKey? parsed))
            {
                continue;
            }

            counts[parsed.Chain] = counts.GetValueOrDefault(parsed.Chain) + 1;
            if (parsed.IsManifest)
            {
                manifests[parsed.Chain] = manifests.GetValueOrDefault(parsed.Chain) + 1;
            }
        }

        var chains = new Dictionary<string, ChainInfo>(StringComparer.Ordinal);
        foreach (string key in objects.Keys.Where(k => CheckpointKeyLayout.TryParseStateFileKey(k, out _)).Order(StringComparer.Ordinal))
        {
            (string? chain, string? problem) = await ReadStateFileAsync(store.Store, key, cancellationToken).ConfigureAwait(false);
            if (chain is null || !CheckpointKeyLayout.IsValidChain(chain) || chains.ContainsKey(chain))
            {
                continue;
            }

            // A file that merely looks like a state file counts only when it parses or its chain has objects.
            if (problem is not null && !counts.ContainsKey(chain))
            {
                continue;
            }

            chains[chain] = new ChainInfo(chain, key, problem is null ? StateFileStatus.Ok : StateFileStatus.Damaged, problem, manifests.GetValueOrDefault(chain), counts.GetValueOrDefault(chain));
        }

        foreach ((string chain, int count) in counts)
        {
            if (!chains.ContainsKey(chain))
            {
                chains[chain] = new ChainInfo(chain, CheckpointKeyLayout.WriterStateFileKeyOf(chain), StateFileStatus.Missing, null, manifests.GetValueOrDefault(chain), count);
            }
        }

        return new ChainCatalog(store, [.. chains.Values.OrderBy(c => c.Name, StringComparer.Ordinal)], objects);
    }

    /// <summary>Returns the chains with checkpoints, or the one named <paramref name="pipeline"/>.</summary>
    /// <exception cref="CliException">The store holds no checkpoint, or no chain of that name (exit code 5).</exception>
    public IReadOnlyList<ChainInfo> Select(string? pipeline, bool withCheckpointsOnly = true)
    {
        IReadOnlyList<ChainInfo> candidates = withCheckpointsOnly ? [.. Chains.Where(c => c.HasCheckpoints)] : Chains;
        if (pipeline is null)
        {
            return candidates.Count > 0
                ? candidates
                : throw CliException.NotFound($"{Store.Display}: no checkpoints found (no state file checkpoint_* or checkpoint, and no *.ckpt-*.manifest).");
        }

        ChainInfo? chosen = candidates.FirstOrDefault(c => string.Equals(c.Name, pipeline, StringComparison.Ordinal));
        if (chosen is not null)
        {
            return [chosen];
        }

        string known = candidates.Count == 0 ? "none" : string.Join(", ", candidates.Select(c => c.Name));
        throw CliException.NotFound($"{Store.Display}: no pipeline \"{pipeline}\" (pipelines with checkpoints: {known}).");
    }

    /// <summary>Returns the chain named <paramref name="name"/>, or <see langword="null"/>.</summary>
    public ChainInfo? Find(string name) => Chains.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal));

    private static async Task<(string? Chain, string? Problem)> ReadStateFileAsync(IInputStateStore store, string key, CancellationToken cancellationToken)
    {
        string? fallback = CheckpointKeyLayout.TryParseStateFileKey(key, out string named) ? named : null;
        StoreReadResult? read = await store.ReadAsync(key, 0, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return (null, null);
        }

        await using (read.ConfigureAwait(false))
        {
            if (read.Info.Length > CheckpointStateFile.MaxLength)
            {
                return (fallback, $"it is {read.Info.Length} bytes long, more than a state file can be.");
            }

            using var buffer = new MemoryStream();
            await read.Content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            try
            {
                CheckpointStateFile state = CheckpointStateFile.Parse(buffer.ToArray(), key);
                return (state.Chain, null);
            }
            catch (CheckpointCorruptedException ex)
            {
                return (fallback, ex.Message);
            }
        }
    }
}
