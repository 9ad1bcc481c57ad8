namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// The chain as this manager sees it: the retained checkpoints, newest first, from the state file, or rebuilt by
/// listing the manifests when the state file is missing or damaged; the state file's version the next compare-and-swap
/// is based on; the manifests already read; and what a newer SDK wrote, which this one must leave alone.
/// </summary>
internal sealed class ChainView(ChainContext chain, ChainOwnership ownership)
{
    private readonly Dictionary<string, CheckpointManifest> _manifests = new(StringComparer.Ordinal);
    private readonly HashSet<string> _newerFormatPrefixes = new(StringComparer.Ordinal);
    private CheckpointFormatVersionException? _newerStateFile;
    private bool _fresh;

    /// <summary>Gets or sets the retained checkpoints, newest first; the first is the latest.</summary>
    public List<CheckpointReference> Checkpoints { get; set; } = [];

    /// <summary>Gets or sets the state file's version this writer last read or wrote (<see langword="null"/>: absent).</summary>
    public StoreVersion? StateVersion { get; set; }

    /// <summary>Gets whether the view was loaded at least once.</summary>
    public bool IsLoaded { get; private set; }

    /// <summary>Gets or sets whether the state file may have changed under this writer (a commit of unknown outcome, or a reread that found another version).</summary>
    public bool ResyncNeeded { get; set; }

    /// <summary>Gets the save prefixes (each ending with '.') of manifests a newer SDK wrote: never restored, retained or collected here.</summary>
    public IEnumerable<string> NewerFormatPrefixes => _newerFormatPrefixes;

    /// <summary>Reads and parses the state file; a damaged one is returned as its damage, with its version.</summary>
    public async Task<(CheckpointStateFile? State, StoreVersion? Version, CheckpointCorruptedException? Damage)> ReadStateFileAsync(CancellationToken cancellationToken)
    {
        StoreReadResult? read = await chain.Store.ReadAsync(chain.StateFileKey, 0, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return (null, null, null);
        }

        await using (read.ConfigureAwait(false))
        {
            byte[] bytes = await MetadataReads.ReadToEndAsync(read, cancellationToken).ConfigureAwait(false);
            try
            {
                CheckpointStateFile state = CheckpointStateFile.Parse(bytes, chain.StateFileKey);
                if (!string.Equals(state.Chain, chain.Chain, StringComparison.Ordinal))
                {
                    throw new CheckpointCorruptedException(chain.StateFileKey, $"the state file belongs to chain \"{state.Chain}\", not \"{chain.Chain}\".");
                }

                return (state, read.Info.Version, null);
            }
            catch (CheckpointCorruptedException ex)
            {
                return (null, read.Info.Version, ex);
            }
        }
    }

    /// <summary>Reads the state file into the view, or rebuilds the view by listing when it is missing or damaged.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        (CheckpointStateFile? state, StoreVersion? version, CheckpointCorruptedException? damage) = await ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        if (!IsLoaded)
        {
            // What is seen first is the base of this writer's first compare-and-swap, and of its judgement of later changes.
            StateVersion = version;
            ownership.Baseline = OwnerStamp.Of(state);
            ownership.BaselineLatest = state?.Latest?.ManifestKey;
        }
        else if (version != StateVersion)
        {
            // The state file changed since this writer last saw it. Reading goes on; before its next commit the writer
            // checks whether the change was its own lost-response commit or another writer's.
            ResyncNeeded = true;
        }

        _newerStateFile = damage as CheckpointFormatVersionException;
        if (state is not null)
        {
            Checkpoints = [.. state.Checkpoints];
            RememberLatest(state);
        }
        else
        {
            Checkpoints = await RebuildAsync(damage, cancellationToken).ConfigureAwait(false);
        }

        IsLoaded = true;
        _fresh = false;
        TrackLatest();
    }

    /// <summary>
    /// Makes the view current before a read of the chain: reads the state file, unless the view was just claimed and
    /// this is the restore that follows (which restores exactly what the claimed state file names).
    /// </summary>
    public async Task RefreshAsync(bool restoring, CancellationToken cancellationToken)
    {
        if (_fresh)
        {
            _fresh = !restoring;
            return;
        }

        await LoadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns the retained checkpoints, newest first, as the state file (or a listing) has them now.</summary>
    public async Task<IReadOnlyList<CheckpointReference>> ListAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(restoring: false, cancellationToken).ConfigureAwait(false);
        return [.. Checkpoints];
    }

    /// <summary>Lets the restore that follows use the view as it is, without reading the state file again.</summary>
    public void MarkFresh() => _fresh = true;

    /// <summary>Takes <paramref name="state"/>, at <paramref name="version"/>, as the view: what this writer wrote or judged to build on.</summary>
    public void Adopt(CheckpointStateFile? state, StoreVersion? version, bool claimed = false)
    {
        Checkpoints = state is null ? [] : [.. state.Checkpoints];
        StateVersion = version;
        ResyncNeeded = false;
        IsLoaded = true;
        _fresh = claimed;
        _newerStateFile = null;
        if (state is not null)
        {
            RememberLatest(state);
        }
    }

    /// <summary>
    /// Rebuilds the list of checkpoints from the manifests in the store, for a state file that is missing (a new chain,
    /// or a lost file) or damaged; the manifests read are remembered.
    /// </summary>
    public async Task<List<CheckpointReference>> RebuildAsync(CheckpointCorruptedException? damage, CancellationToken cancellationToken)
    {
        if (damage is not null)
        {
            CheckpointManager.Log.RebuildingView(chain.Logger, chain.Chain, chain.StateFileKey, damage);
            return await ListManifestsAsync(cancellationToken).ConfigureAwait(false);
        }

        // A missing state file is normal for a new chain; with manifests in the store, it was lost.
        List<CheckpointReference> rebuilt = await ListManifestsAsync(cancellationToken).ConfigureAwait(false);
        if (rebuilt.Count > 0)
        {
            CheckpointManager.Log.RebuildingView(chain.Logger, chain.Chain, chain.StateFileKey, null);
        }
        else
        {
            CheckpointManager.Log.NewChain(chain.Logger, chain.Chain, chain.StateFileKey);
        }

        return rebuilt;
    }

    /// <summary>Reports the age of the latest checkpoint while this writer owns the chain.</summary>
    public void TrackLatest()
    {
        if (Checkpoints.Count > 0 && !ownership.IsLost)
        {
            chain.Metrics.TrackLatest(chain.MetricsOwner, chain.Chain, chain.Provider, chain.Time, Checkpoints[0].CreatedAt);
        }
    }

    /// <exception cref="CheckpointFormatVersionException">The state file was written by a newer SDK.</exception>
    public void ThrowIfNewerFormat()
    {
        // A chain a newer SDK has written to is left alone: overwriting its state file or collecting its objects could
        // destroy checkpoints this SDK cannot read.
        if (_newerStateFile is { } newer)
        {
            throw new CheckpointFormatVersionException(newer.Key, newer.FoundVersion, newer.SupportedVersion);
        }
    }

    /// <summary>Returns the manifest of the latest of <paramref name="checkpoints"/> when it is known, to carry in the state file.</summary>
    public CheckpointManifest? KnownLatest(IReadOnlyList<CheckpointReference> checkpoints) =>
        checkpoints.Count > 0 && _manifests.TryGetValue(checkpoints[0].ManifestKey, out CheckpointManifest? manifest) && manifest.Step == checkpoints[0].Step ? manifest : null;

    /// <summary>Reads the latest checkpoint's manifest if it is not known yet, so a commit can carry it; a damaged one is left out.</summary>
    public async Task TryLoadLatestAsync(CancellationToken cancellationToken)
    {
        if (Checkpoints.Count == 0 || _manifests.ContainsKey(Checkpoints[0].ManifestKey))
        {
            return;
        }

        try
        {
            Remember(Checkpoints[0].ManifestKey, await ReadManifestAsync(Checkpoints[0], cancellationToken).ConfigureAwait(false));
        }
        catch (CheckpointCorruptedException)
        {
            // The state file then carries no manifest; a restore reads the manifest object and falls back from it.
        }
    }

    /// <summary>Keeps a manifest this writer wrote or read, so it is not read again.</summary>
    public void Remember(string manifestKey, CheckpointManifest manifest) => _manifests[manifestKey] = manifest;

    /// <summary>Forgets a manifest that was deleted.</summary>
    public void Forget(string manifestKey) => _manifests.Remove(manifestKey);

    /// <summary>Returns the manifest if it is known without a read.</summary>
    public bool TryGetKnown(string manifestKey, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CheckpointManifest? manifest) =>
        _manifests.TryGetValue(manifestKey, out manifest);

    /// <summary>Reads a manifest (or returns the one known), checked against the step the view records for it.</summary>
    /// <exception cref="CheckpointCorruptedException">The manifest is missing, damaged, of an unknown format version or of another step.</exception>
    public async Task<CheckpointManifest> ReadManifestAsync(CheckpointReference checkpoint, CancellationToken cancellationToken)
    {
        CheckpointManifest manifest = await ReadManifestAsync(checkpoint.ManifestKey, cancellationToken).ConfigureAwait(false);
        if (manifest.Step != checkpoint.Step)
        {
            throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest records step {manifest.Step}, the state file step {checkpoint.Step}.");
        }

        return manifest;
    }

    /// <summary>Reads the manifest object itself, even when a copy is known, and checks that the two agree.</summary>
    /// <exception cref="CheckpointCorruptedException">The manifest object is missing, damaged, of another step, or differs from the known copy.</exception>
    public async Task<CheckpointManifest> ReadStoredManifestAsync(CheckpointReference checkpoint, CancellationToken cancellationToken)
    {
        byte[] bytes = await MetadataReads.ReadAllAsync(chain.Store, checkpoint.ManifestKey, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointCorruptedException(checkpoint.ManifestKey, "the manifest is missing from the store.");
        CheckpointManifest stored = CheckpointManifest.Parse(bytes, checkpoint.ManifestKey);
        if (stored.Step != checkpoint.Step)
        {
            throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest records step {stored.Step}, the state file step {checkpoint.Step}.");
        }

        if (_manifests.TryGetValue(checkpoint.ManifestKey, out CheckpointManifest? known)
            && (known.SaveId != stored.SaveId || known.CreatedAt != stored.CreatedAt || !known.Parts.SequenceEqual(stored.Parts)))
        {
            throw new CheckpointCorruptedException(checkpoint.ManifestKey, "the manifest differs from the copy the state file carries.");
        }

        return stored;
    }

    /// <exception cref="CheckpointCorruptedException">The manifest is missing, damaged or of an unknown format version.</exception>
    public async Task<CheckpointManifest> ReadManifestAsync(string manifestKey, CancellationToken cancellationToken)
    {
        if (_manifests.TryGetValue(manifestKey, out CheckpointManifest? known))
        {
            return known;
        }

        byte[]? bytes = await MetadataReads.ReadAllAsync(chain.Store, manifestKey, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointCorruptedException(manifestKey, "the manifest is missing from the store.");
        return CheckpointManifest.Parse(bytes, manifestKey);
    }

    private void RememberLatest(CheckpointStateFile state)
    {
        if (state.LatestManifest is { } manifest && state.Latest is { } latest)
        {
            Remember(latest.ManifestKey, manifest);
        }
    }

    private async Task<List<CheckpointReference>> ListManifestsAsync(CancellationToken cancellationToken)
    {
        var found = new List<CheckpointReference>();
        await foreach (StoreObjectInfo info in chain.Store.ListAsync(chain.Layout.ChainPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (!CheckpointKeyLayout.IsManifestKey(info.Key))
            {
                continue;
            }

            try
            {
                byte[]? bytes = await MetadataReads.ReadAllAsync(chain.Store, info.Key, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    continue;
                }

                CheckpointManifest manifest = CheckpointManifest.Parse(bytes, info.Key);
                if (manifest.Chain == chain.Chain)
                {
                    found.Add(new CheckpointReference { Step = manifest.Step, ManifestKey = info.Key, CreatedAt = manifest.CreatedAt });
                    Remember(info.Key, manifest);
                }
            }
            catch (CheckpointFormatVersionException ex)
            {
                // Written by a newer SDK: never restored, retained or collected by this one.
                _newerFormatPrefixes.Add(CheckpointKeyLayout.SavePrefixOf(info.Key) + ".");
                CheckpointManager.Log.SkippingDamagedManifest(chain.Logger, chain.Chain, info.Key, ex);
            }
            catch (CheckpointCorruptedException ex)
            {
                CheckpointManager.Log.SkippingDamagedManifest(chain.Logger, chain.Chain, info.Key, ex);
            }
        }

        return [.. found.OrderByDescending(r => r.Step).ThenByDescending(r => r.CreatedAt)];
    }
}
