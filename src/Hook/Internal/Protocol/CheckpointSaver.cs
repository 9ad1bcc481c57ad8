using System.Diagnostics;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// One save, the commit protocol's steps in order: create-only parts (<see cref="PartUploader"/>), a create-only
/// manifest, the compare-and-swap of the state file (<see cref="StateFileCommitter"/>), then retention and orphan
/// collection (<see cref="RetentionCollector"/>). A failure before the swap leaves the previous checkpoint the latest.
/// </summary>
internal sealed class CheckpointSaver(ChainContext chain, ChainView view, StateFileCommitter committer, PartUploader uploader, RetentionCollector retention)
{
    private long _commitCount;

    public long CommitCount => Interlocked.Read(ref _commitCount);

    public async Task<CheckpointReference> SaveAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointSnapshot>> snapshots, CancellationToken cancellationToken)
    {
        await committer.PrepareAsync(CommitRole.Writer, cancellationToken).ConfigureAwait(false);

        DateTimeOffset createdAt = chain.Time.GetUtcNow();
        string saveId = ChainContext.RandomHex(6);
        var parts = new List<CheckpointPartInfo>(snapshots.Count);
        foreach (KeyValuePair<string, ICheckpointSnapshot> snapshot in snapshots)
        {
            string key = chain.Layout.PartKey(step, saveId, snapshot.Key);
            (long length, string checksum) = await uploader.UploadAsync(key, snapshot.Value, cancellationToken).ConfigureAwait(false);
            chain.Metrics.AddBytesWritten(length, chain.Chain, chain.Provider);
            parts.Add(new CheckpointPartInfo { Name = snapshot.Key, Key = key, Length = length, Checksum = checksum });
        }

        var manifest = new CheckpointManifest
        {
            Chain = chain.Chain,
            Step = step,
            CreatedAt = createdAt,
            WriterId = chain.WriterId,
            SaveId = saveId,
            Parts = parts,
        };
        string manifestKey = chain.Layout.ManifestKey(step, saveId);
        using (var manifestContent = new MemoryStream(manifest.ToUtf8Json(), writable: false))
        {
            await chain.Store.WriteAsync(manifestKey, manifestContent, WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false);
        }

        committer.AddOwnManifest(manifestKey);
        view.Remember(manifestKey, manifest);

        var reference = new CheckpointReference { Step = step, ManifestKey = manifestKey, CreatedAt = createdAt };
        CommitPlan committed = await CommitObservedAsync(reference, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _commitCount);
        chain.Metrics.AddCommit(chain.Chain, chain.Provider);
        view.TrackLatest();
        CheckpointManager.Log.Committed(chain.Logger, chain.Chain, step, manifestKey, parts.Count, manifest.TotalLength);

        await retention.AfterCommitAsync(committed.Dropped, cancellationToken).ConfigureAwait(false);
        return reference;
    }

    /// <summary>The new checkpoint becomes the latest; the oldest beyond <see cref="CheckpointManagerOptions.KeepMax"/> are dropped.</summary>
    private CommitPlan Plan(CheckpointReference reference, IReadOnlyList<CheckpointReference> current)
    {
        List<CheckpointReference> candidates = [reference, .. current.Where(r => r.Step != reference.Step && r.ManifestKey != reference.ManifestKey)];
        List<CheckpointReference> retained = [.. candidates.Take(chain.Options.KeepMax)];
        return new CommitPlan(retained, [.. current.Where(r => !retained.Contains(r))]);
    }

    private async Task<CommitPlan> CommitObservedAsync(CheckpointReference reference, CancellationToken cancellationToken)
    {
        using Activity? commit = CheckpointingMetrics.StartActivity(CheckpointingActivityNames.Commit, chain.Chain, chain.Provider);
        if (commit is { IsAllDataRequested: true })
        {
            commit.SetTag(CheckpointingTagNames.Step, reference.Step);
            commit.SetTag(CheckpointingTagNames.ManifestKey, reference.ManifestKey);
        }

        try
        {
            CommitPlan committed = await committer.CommitAsync(current => Plan(reference, current), CommitRole.Writer, cancellationToken).ConfigureAwait(false);
            CheckpointingMetrics.SetOutcome(commit, CheckpointingTagValues.Success);
            return committed;
        }
        catch (Exception ex)
        {
            CheckpointingMetrics.SetFailure(commit, ex, ex is OperationCanceledException && cancellationToken.IsCancellationRequested);
            throw;
        }
    }
}
