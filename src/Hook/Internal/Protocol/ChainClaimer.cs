namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Step 0 of the commit protocol: a writer that starts claims its chain before it restores. With
/// <see cref="OwnershipPolicy.TakeOver"/> it replaces the state file by compare-and-swap with the next owner epoch and
/// its own id, keeping the latest checkpoint (and its manifest) and the retained list, and restores exactly what it
/// claimed; an older writer's next commit then fails. A state file that is missing or damaged is rebuilt by listing
/// first, as a restore would; a new chain (no state file, no manifest) is left for the first commit to create. With <see cref="OwnershipPolicy.FirstWriterWins"/> nothing is written: the claim only
/// reads the state file, and the writer's first commit claims the chain if nobody committed since.
/// </summary>
internal sealed class ChainClaimer(ChainContext chain, ChainView view, ChainOwnership ownership)
{
    /// <summary>How many times a claim reads the state file again after another writer replaced it first.</summary>
    private const int MaxAttempts = 10;

    /// <exception cref="CheckpointOwnershipLostException">This manager lost the chain earlier.</exception>
    /// <exception cref="CheckpointFormatVersionException">The chain's state file was written by a newer SDK.</exception>
    /// <exception cref="CheckpointConflictException">Other writers kept replacing the state file; nothing was claimed.</exception>
    /// <exception cref="CheckpointStoreException">The store failed and the claim did not land.</exception>
    public async Task ClaimAsync(CancellationToken cancellationToken)
    {
        ownership.ThrowIfLost();
        if (ownership.HeldEpoch is not null)
        {
            return;
        }

        if (chain.Options.Ownership == OwnershipPolicy.FirstWriterWins)
        {
            await view.LoadAsync(cancellationToken).ConfigureAwait(false);
            view.MarkFresh();
            return;
        }

        CheckpointConflictException? conflict = null;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            (CheckpointStateFile? state, StoreVersion? version, CheckpointCorruptedException? damage) = await view.ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
            if (damage is CheckpointFormatVersionException newer)
            {
                // Never overwrite a chain a newer SDK owns: it may hold checkpoints this SDK cannot read.
                throw new CheckpointFormatVersionException(newer.Key, newer.FoundVersion, newer.SupportedVersion);
            }

            List<CheckpointReference> checkpoints = state is not null
                ? [.. state.Checkpoints]
                : await view.RebuildAsync(damage, cancellationToken).ConfigureAwait(false);
            if (version is null && checkpoints.Count == 0)
            {
                // A new chain: nothing to take over and nothing to fence. The first commit creates the state file
                // (create-only), which claims the chain.
                ownership.Baseline = default;
                ownership.BaselineLatest = null;
                view.Adopt(null, null, claimed: true);
                return;
            }

            CheckpointStateFile claimed = ClaimedState(state, checkpoints);
            try
            {
                using var content = new MemoryStream(claimed.ToUtf8Json(), writable: false);
                WriteCondition condition = version is { } current ? WriteCondition.IfVersionMatches(current) : WriteCondition.IfAbsent;
                StoreVersion written = await chain.Store.WriteAsync(chain.StateFileKey, content, condition, cancellationToken).ConfigureAwait(false);
                Claimed(claimed, written, state);
                return;
            }
            catch (CheckpointConflictException ex)
            {
                // Replaced between the read and the write: by the old owner's commit, a prune, or another claim. Again.
                conflict = ex;
            }
            catch (CheckpointStoreException)
            {
                if (await LandedVersionAsync(claimed).ConfigureAwait(false) is not { } landed)
                {
                    throw;
                }

                Claimed(claimed, landed, state);
                return;
            }
        }

        throw conflict!;
    }

    private CheckpointStateFile ClaimedState(CheckpointStateFile? state, List<CheckpointReference> checkpoints) => new()
    {
        Chain = chain.Chain,
        WriterId = chain.WriterId,
        OwnerEpoch = OwnerStamp.Of(state).Epoch + 1,
        OwnerId = ownership.OwnerId,
        UpdatedAt = chain.Time.GetUtcNow(),
        Checkpoints = checkpoints,
        LatestManifest = state is not null ? state.LatestManifest : view.KnownLatest(checkpoints),
    };

    private void Claimed(CheckpointStateFile claimed, StoreVersion version, CheckpointStateFile? previous)
    {
        ownership.Hold(claimed.OwnerEpoch);
        view.Adopt(claimed, version, claimed: true);
        view.TrackLatest();
        CheckpointManager.Log.Claimed(chain.Logger, chain.Chain, chain.StateFileKey, claimed.OwnerEpoch, previous?.OwnerId ?? "none", claimed.Checkpoints.Count, claimed.Latest?.Step ?? -1);
    }

    /// <summary>After a write of unknown outcome: the state file's version if it is this claim, else <see langword="null"/>.</summary>
    private async Task<StoreVersion?> LandedVersionAsync(CheckpointStateFile claimed)
    {
        try
        {
            (CheckpointStateFile? now, StoreVersion? version, _) = await view.ReadStateFileAsync(CancellationToken.None).ConfigureAwait(false);
            return now is not null && OwnerStamp.Of(now) == OwnerStamp.Of(claimed) ? version : null;
        }
        catch (Exception ex) when (ex is CheckpointException or IOException)
        {
            return null;
        }
    }
}
