namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Step 5 of the commit protocol: deletes the checkpoints a commit dropped, each manifest before its parts, and every
/// so many commits collects orphans, the objects of saves that crashed before their commit, once past a grace period.
/// </summary>
internal sealed class RetentionCollector(ChainContext chain, ChainView view)
{
    private int _commitsSinceCollection;
    private bool _collectedOnce;

    /// <summary>
    /// Commits the <paramref name="keepMax"/> newest checkpoints as the retained list, then deletes the others. A
    /// manager that does not own the chain (<c>ckpt prune</c>) keeps the owner's epoch, so a job writing the chain goes on.
    /// </summary>
    /// <returns>The checkpoints dropped (or, in a dry run, that would be), newest first.</returns>
    public async Task<IReadOnlyList<CheckpointReference>> PruneAsync(int keepMax, bool dryRun, StateFileCommitter committer, CancellationToken cancellationToken)
    {
        await committer.PrepareAsync(CommitRole.Maintenance, cancellationToken).ConfigureAwait(false);
        if (dryRun || view.Checkpoints.Count <= keepMax)
        {
            return [.. view.Checkpoints.Skip(keepMax)];
        }

        await view.TryLoadLatestAsync(cancellationToken).ConfigureAwait(false);
        CommitPlan committed = await committer.CommitAsync(
            current => new CommitPlan([.. current.Take(keepMax)], [.. current.Skip(keepMax)]),
            CommitRole.Maintenance,
            cancellationToken).ConfigureAwait(false);
        foreach (CheckpointReference old in committed.Dropped)
        {
            await DeleteAsync(old, cancellationToken).ConfigureAwait(false);
        }

        return committed.Dropped;
    }

    /// <summary>After a commit: deletes what it dropped, then collects orphans on the first commit and every <see cref="CheckpointManagerOptions.OrphanCollectionInterval"/> commits.</summary>
    public async Task AfterCommitAsync(IEnumerable<CheckpointReference> dropped, CancellationToken cancellationToken)
    {
        foreach (CheckpointReference old in dropped)
        {
            await DeleteAsync(old, cancellationToken).ConfigureAwait(false);
        }

        _commitsSinceCollection++;
        if (!_collectedOnce || _commitsSinceCollection >= chain.Options.OrphanCollectionInterval)
        {
            try
            {
                await CollectOrphansAsync(dryRun: false, cancellationToken).ConfigureAwait(false);
                _collectedOnce = true;
                _commitsSinceCollection = 0;
            }
            catch (Exception ex) when (ex is CheckpointException or IOException)
            {
                CheckpointManager.Log.OrphanCollectionFailed(chain.Logger, chain.Chain, ex);
            }
        }
    }

    /// <summary>Deletes a checkpoint no state file references any more: its manifest first, so no reader ever finds a manifest whose parts are gone.</summary>
    public async Task DeleteAsync(CheckpointReference checkpoint, CancellationToken cancellationToken)
    {
        CheckpointManifest? manifest = null;
        try
        {
            manifest = await view.ReadManifestAsync(checkpoint.ManifestKey, cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointException)
        {
            // Damaged or unreadable: its parts are found by their shared prefix below.
        }

        try
        {
            await chain.Store.DeleteAsync(checkpoint.ManifestKey, null, cancellationToken).ConfigureAwait(false);
            view.Forget(checkpoint.ManifestKey);
            IEnumerable<string> partKeys = manifest?.Parts.Select(p => p.Key)
                ?? await MetadataReads.ListKeysAsync(chain.Store, CheckpointKeyLayout.SavePrefixOf(checkpoint.ManifestKey) + ".", cancellationToken).ConfigureAwait(false);
            foreach (string key in partKeys)
            {
                await chain.Store.DeleteAsync(key, null, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (CheckpointException ex)
        {
            CheckpointManager.Log.RetentionDeleteFailed(chain.Logger, chain.Chain, checkpoint.ManifestKey, ex);
        }
    }

    /// <summary>Reads the state file, then collects the orphans it leaves (see <see cref="CollectOrphansAsync"/>).</summary>
    public async Task<IReadOnlyList<string>> CollectOrphansOfCurrentViewAsync(bool dryRun, CancellationToken cancellationToken)
    {
        await view.LoadAsync(cancellationToken).ConfigureAwait(false);
        return await CollectOrphansAsync(dryRun, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes (or, in a dry run, lists) the chain's objects that no retained checkpoint references and that are older than the grace period.</summary>
    /// <exception cref="CheckpointFormatVersionException">The state file was written by a newer SDK.</exception>
    /// <exception cref="CheckpointStoreException">The store failed.</exception>
    public async Task<IReadOnlyList<string>> CollectOrphansAsync(bool dryRun, CancellationToken cancellationToken)
    {
        view.ThrowIfNewerFormat();
        string[] retainedPrefixes = [.. view.Checkpoints.Select(r => CheckpointKeyLayout.SavePrefixOf(r.ManifestKey) + "."), .. view.NewerFormatPrefixes];
        DateTimeOffset cutoff = chain.Time.GetUtcNow() - chain.Options.OrphanGracePeriod;
        var orphans = new List<StoreObjectInfo>();
        await foreach (StoreObjectInfo info in chain.Store.ListAsync(chain.Layout.ChainPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (info.LastModified <= cutoff && !retainedPrefixes.Any(p => info.Key.StartsWith(p, StringComparison.Ordinal)))
            {
                orphans.Add(info);
            }
        }

        // Manifests first, for the same reason as in retention.
        orphans.Sort((a, b) => CheckpointKeyLayout.IsManifestKey(b.Key).CompareTo(CheckpointKeyLayout.IsManifestKey(a.Key)));
        var collected = new List<string>(orphans.Count);
        foreach (StoreObjectInfo orphan in orphans)
        {
            if (!dryRun)
            {
                try
                {
                    await chain.Store.DeleteAsync(orphan.Key, orphan.Version, cancellationToken).ConfigureAwait(false);
                }
                catch (CheckpointConflictException)
                {
                    continue;
                }
            }

            collected.Add(orphan.Key);
        }

        if (!dryRun && collected.Count > 0)
        {
            CheckpointManager.Log.OrphansCollected(chain.Logger, chain.Chain, collected.Count);
        }

        return collected;
    }
}
