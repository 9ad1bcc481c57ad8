namespace InputPipeline.Checkpointing.Internal;

/// <summary>What a commit keeps and drops, planned from the retained list it is applied to.</summary>
internal sealed record CommitPlan(List<CheckpointReference> Retained, List<CheckpointReference> Dropped);

/// <summary>
/// Step 4 of the commit protocol: replaces the chain's state file by a compare-and-swap on the version this writer
/// last saw, recording the owner (<see cref="ChainOwnership"/>) and the latest checkpoint's manifest. When the swap
/// fails, the state file is read once: a swap of this writer's that did land (a lost response) is confirmed; a change
/// that keeps the owner (a <c>ckpt prune</c>) is re-read and the commit re-applied on top; any other change means
/// another writer owns the chain now, and this one stops for good. A commit whose outcome is unknown is resolved by
/// reading the state file back, now or before the next commit.
/// </summary>
internal sealed class StateFileCommitter(ChainContext chain, ChainView view, ChainOwnership ownership)
{
    /// <summary>How many times a commit is re-applied over changes that keep the owner before it gives up with the conflict.</summary>
    private const int MaxAttempts = 8;

    private readonly HashSet<string> _ownManifests = new(StringComparer.Ordinal);

    /// <summary>Remembers a manifest this writer wrote, so a reread state file naming it is recognised as its own commit.</summary>
    public void AddOwnManifest(string manifestKey) => _ownManifests.Add(manifestKey);

    /// <summary>Makes the view current before a commit: loads it the first time, and resolves a change seen since (a commit of unknown outcome, or another writer's).</summary>
    /// <exception cref="CheckpointOwnershipLostException">Ownership is, or turns out to be, lost.</exception>
    /// <exception cref="CheckpointFormatVersionException">The state file was written by a newer SDK.</exception>
    public async Task PrepareAsync(CommitRole role, CancellationToken cancellationToken)
    {
        ownership.ThrowIfLost();
        if (!view.IsLoaded)
        {
            await view.LoadAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (view.ResyncNeeded)
        {
            await ResyncAsync(role, cancellationToken).ConfigureAwait(false);
        }

        view.ThrowIfNewerFormat();
    }

    /// <summary>Commits what <paramref name="plan"/> keeps of the view's retained list as the chain's state file.</summary>
    /// <returns>The plan that was committed (re-applied to what the state file held, if it changed meanwhile).</returns>
    /// <exception cref="CheckpointOwnershipLostException">Another writer owns the chain now.</exception>
    /// <exception cref="CheckpointConflictException">The state file kept changing under the commit, without a change of owner.</exception>
    /// <exception cref="CheckpointStoreException">The store failed; the commit is resolved before the next one.</exception>
    public async Task<CommitPlan> CommitAsync(Func<IReadOnlyList<CheckpointReference>, CommitPlan> plan, CommitRole role, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            CommitPlan planned = plan(view.Checkpoints);
            OwnerStamp owner = ownership.StampFor(role);
            var state = new CheckpointStateFile
            {
                Chain = chain.Chain,
                WriterId = chain.WriterId,
                OwnerEpoch = owner.Epoch,
                OwnerId = owner.OwnerId,
                UpdatedAt = chain.Time.GetUtcNow(),
                Checkpoints = planned.Retained,
                LatestManifest = view.KnownLatest(planned.Retained),
            };
            WriteCondition condition = view.StateVersion is { } version ? WriteCondition.IfVersionMatches(version) : WriteCondition.IfAbsent;
            try
            {
                using var content = new MemoryStream(state.ToUtf8Json(), writable: false);
                Committed(state, await chain.Store.WriteAsync(chain.StateFileKey, content, condition, cancellationToken).ConfigureAwait(false), role);
                return planned;
            }
            catch (CheckpointConflictException conflict)
            {
                if (await ReapplyAfterConflictAsync(state, role, conflict, attempt, cancellationToken).ConfigureAwait(false))
                {
                    return planned;
                }
            }
            catch (Exception ex) when (ex is CheckpointStoreException or OperationCanceledException)
            {
                // The write may or may not have landed (a lost response); find out now or at the next save.
                if (ex is CheckpointStoreException && await TryConfirmAsync(state, role).ConfigureAwait(false))
                {
                    return planned;
                }

                view.ResyncNeeded = true;
                CheckpointManager.Log.CommitFailed(chain.Logger, chain.Chain, state.Latest?.ManifestKey ?? chain.StateFileKey, ex);
                throw;
            }
        }
    }

    /// <summary>
    /// Judges a failed swap by the state file as it is now: <see langword="true"/> when it is this very commit (a
    /// provider's own retry of a write that did land also answers with a conflict), <see langword="false"/> when the
    /// change kept the owner and the view now holds it, to re-apply the commit on.
    /// </summary>
    private async Task<bool> ReapplyAfterConflictAsync(CheckpointStateFile attempted, CommitRole role, CheckpointConflictException conflict, int attempt, CancellationToken cancellationToken)
    {
        CheckpointStateFile? current;
        StoreVersion? version;
        CheckpointCorruptedException? damage;
        try
        {
            (current, version, damage) = await view.ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CheckpointStoreException or IOException)
        {
            // Who changed the state file is not known yet; the next commit finds out first.
            view.ResyncNeeded = true;
            throw;
        }

        if (version is { } landed && IsLanded(current, attempted))
        {
            Committed(attempted, landed, role);
            CheckpointManager.Log.CommitConfirmed(chain.Logger, chain.Chain);
            return true;
        }

        if (damage is not null || !ownership.AllowsChange(current, role))
        {
            throw ownership.Lose(current, conflict);
        }

        if (attempt >= MaxAttempts)
        {
            view.ResyncNeeded = true;
            throw conflict;
        }

        view.Adopt(current, version);
        CheckpointManager.Log.Reapplying(chain.Logger, chain.Chain, chain.StateFileKey, current?.WriterId ?? "none", OwnerStamp.Of(current).Epoch);
        return false;
    }

    private async Task<bool> TryConfirmAsync(CheckpointStateFile attempted, CommitRole role)
    {
        try
        {
            (CheckpointStateFile? current, StoreVersion? version, _) = await view.ReadStateFileAsync(CancellationToken.None).ConfigureAwait(false);
            if (version is { } landed && IsLanded(current, attempted))
            {
                Committed(attempted, landed, role);
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

    /// <summary>Before a commit that follows one of unknown outcome, or a reread that found another version: builds on the state file if it still has this commit's owner.</summary>
    private async Task ResyncAsync(CommitRole role, CancellationToken cancellationToken)
    {
        (CheckpointStateFile? current, StoreVersion? version, CheckpointCorruptedException? damage) = await view.ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        if (version == view.StateVersion)
        {
            view.ResyncNeeded = false;
            return;
        }

        bool ownCommitLanded = current is not null && current.OwnerId == ownership.OwnerId && current.Latest is { } latest && _ownManifests.Contains(latest.ManifestKey);
        if (damage is null && (ownCommitLanded || ownership.AllowsChange(current, role)))
        {
            if (ownCommitLanded && ownership.HeldEpoch is null)
            {
                ownership.Hold(current!.OwnerEpoch);
            }

            view.Adopt(current, version);
            view.TrackLatest();
            CheckpointManager.Log.CommitConfirmed(chain.Logger, chain.Chain);
            return;
        }

        throw ownership.Lose(current);
    }

    private void Committed(CheckpointStateFile state, StoreVersion version, CommitRole role)
    {
        view.Adopt(state, version);
        if (role == CommitRole.Writer && ownership.HeldEpoch is null)
        {
            // A writer's first commit takes the chain over.
            ownership.Hold(state.OwnerEpoch);
        }
    }

    private bool IsLanded(CheckpointStateFile? current, CheckpointStateFile attempted) =>
        current is not null
        && current.WriterId == chain.WriterId
        && OwnerStamp.Of(current) == OwnerStamp.Of(attempted)
        && current.Checkpoints.SequenceEqual(attempted.Checkpoints);
}
