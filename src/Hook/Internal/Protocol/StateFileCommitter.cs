namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Step 4 of the commit protocol: replaces the chain's state file by a compare-and-swap on the version this writer
/// last saw. A swap whose response was lost is confirmed by reading the state file back (now, or before the next
/// commit); a swap that failed because another writer committed loses ownership for good.
/// </summary>
internal sealed class StateFileCommitter(ChainContext chain, ChainView view, ChainOwnership ownership)
{
    private readonly HashSet<string> _ownManifests = new(StringComparer.Ordinal);

    /// <summary>Remembers a manifest this writer wrote, so a reread state file naming it is recognised as its own commit.</summary>
    public void AddOwnManifest(string manifestKey) => _ownManifests.Add(manifestKey);

    /// <summary>Makes the view current before a commit: loads it the first time, and resolves a commit of unknown outcome.</summary>
    /// <exception cref="CheckpointOwnershipLostException">Ownership is, or turns out to be, lost.</exception>
    /// <exception cref="CheckpointFormatVersionException">The state file was written by a newer SDK.</exception>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        ownership.ThrowIfLost();
        if (!view.IsLoaded)
        {
            await view.LoadAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (view.ResyncNeeded)
        {
            await ResyncAsync(cancellationToken).ConfigureAwait(false);
        }

        view.ThrowIfNewerFormat();
    }

    /// <summary>Commits <paramref name="retained"/> (newest first, <paramref name="manifestKey"/> the latest) as the chain's state file.</summary>
    /// <exception cref="CheckpointOwnershipLostException">Another writer committed since this one last did.</exception>
    /// <exception cref="CheckpointStoreException">The store failed; the commit is resolved before the next one.</exception>
    public async Task CommitAsync(List<CheckpointReference> retained, string manifestKey, CancellationToken cancellationToken)
    {
        var state = new CheckpointStateFile
        {
            Chain = chain.Chain,
            WriterId = chain.WriterId,
            UpdatedAt = chain.Time.GetUtcNow(),
            Checkpoints = retained,
        };
        WriteCondition condition = view.StateVersion is { } version ? WriteCondition.IfVersionMatches(version) : WriteCondition.IfAbsent;
        try
        {
            using var content = new MemoryStream(state.ToUtf8Json(), writable: false);
            view.StateVersion = await chain.Store.WriteAsync(chain.StateFileKey, content, condition, cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointConflictException conflict)
        {
            // A provider's own retry of a write that did land also answers with a conflict: check before giving up.
            if (await TryConfirmAsync(manifestKey, cancellationToken).ConfigureAwait(false))
            {
                view.Checkpoints = retained;
                return;
            }

            throw ownership.Lose(conflict);
        }
        catch (Exception ex) when (ex is CheckpointStoreException or OperationCanceledException)
        {
            // The write may or may not have landed (a lost response); find out now or at the next save.
            if (ex is CheckpointStoreException && await TryConfirmAsync(manifestKey, CancellationToken.None).ConfigureAwait(false))
            {
                view.Checkpoints = retained;
                return;
            }

            view.ResyncNeeded = true;
            CheckpointManager.Log.CommitFailed(chain.Logger, chain.Chain, manifestKey, ex);
            throw;
        }

        view.Checkpoints = retained;
    }

    private async Task<bool> TryConfirmAsync(string manifestKey, CancellationToken cancellationToken)
    {
        try
        {
            (CheckpointStateFile? state, StoreVersion? version, _) = await view.ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
            if (state is not null && version is not null && state.WriterId == chain.WriterId && state.Latest?.ManifestKey == manifestKey)
            {
                view.StateVersion = version;
                view.ResyncNeeded = false;
                CheckpointManager.Log.CommitConfirmed(chain.Logger, chain.Chain);
                return true;
            }
        }
        catch (Exception ex) when (ex is CheckpointException or IOException)
        {
            // The confirmation read failed as well; the caller treats the commit as not confirmed.
        }

        return false;
    }

    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        (CheckpointStateFile? state, StoreVersion? version, _) = await view.ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        if (version == view.StateVersion)
        {
            view.ResyncNeeded = false;
            return;
        }

        if (state is not null && version is not null && state.WriterId == chain.WriterId && state.Latest is { } latest && _ownManifests.Contains(latest.ManifestKey))
        {
            view.StateVersion = version;
            view.Checkpoints = [.. state.Checkpoints];
            view.TrackLatest();
            view.ResyncNeeded = false;
            CheckpointManager.Log.CommitConfirmed(chain.Logger, chain.Chain);
            return;
        }

        throw ownership.Lose();
    }
}
