using System.Diagnostics;
using System.Globalization;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Restore: reads a checkpoint's manifest and streams each part into its target through a verifying read (length and
/// checksum); a damaged checkpoint falls back to the next candidate, and only damage counts as a reason to fall back.
/// </summary>
internal sealed class CheckpointRestorer(ChainContext chain, ChainView view)
{
    private long _fallbackCount;

    public long FallbackCount => Interlocked.Read(ref _fallbackCount);

    /// <summary>Restores the latest retained checkpoint, falling back to older ones; <see langword="null"/> for an empty chain.</summary>
    public async Task<CheckpointReference?> RestoreLatestAsync(IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, RestoreStats stats, CancellationToken cancellationToken)
    {
        await view.RefreshAsync(restoring: true, cancellationToken).ConfigureAwait(false);
        List<CheckpointReference> retained = view.Checkpoints;
        return retained.Count == 0
            ? null
            : await RestoreFirstSoundAsync(retained, targets, $"none of the {retained.Count} retained checkpoints could be restored", stats, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Restores the checkpoint at exactly <paramref name="step"/>, without falling back to another step.</summary>
    /// <exception cref="CheckpointNotFoundException">No retained checkpoint was taken at <paramref name="step"/>.</exception>
    public async Task<CheckpointReference> RestoreAtStepAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, RestoreStats stats, CancellationToken cancellationToken)
    {
        await view.RefreshAsync(restoring: true, cancellationToken).ConfigureAwait(false);
        List<CheckpointReference> atStep = [.. view.Checkpoints.Where(r => r.Step == step)];
        if (atStep.Count == 0)
        {
            string retained = view.Checkpoints.Count == 0 ? "none" : string.Join(", ", view.Checkpoints.Select(r => r.Step.ToString(CultureInfo.InvariantCulture)));
            throw new CheckpointNotFoundException(chain.Chain, $"no retained checkpoint was taken at step {step} (retained steps: {retained}).");
        }

        return await RestoreFirstSoundAsync(atStep, targets, $"the checkpoint at step {step} could not be restored", stats, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Restores the first of <paramref name="candidates"/> that proves sound.</summary>
    /// <exception cref="CheckpointCorruptedException">Every candidate is damaged; the inner exception lists why.</exception>
    /// <exception cref="CheckpointMismatchException">A checkpoint holds other checkpointables than the targets.</exception>
    public async Task<CheckpointReference> RestoreFirstSoundAsync(List<CheckpointReference> candidates, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, string failureSummary, RestoreStats stats, CancellationToken cancellationToken)
    {
        var failures = new List<Exception>();
        for (int i = 0; i < candidates.Count; i++)
        {
            CheckpointReference candidate = candidates[i];
            try
            {
                await RestoreFromAsync(candidate, targets, stats, cancellationToken).ConfigureAwait(false);
                CheckpointManager.Log.Restored(chain.Logger, chain.Chain, candidate.Step, candidate.ManifestKey);
                return candidate;
            }
            catch (CheckpointCorruptedException ex)
            {
                failures.Add(ex);
                if (i + 1 < candidates.Count)
                {
                    // Only a failure followed by another candidate is a fallback.
                    RecordFallback(candidate, ex, stats);
                }
            }
        }

        throw new CheckpointCorruptedException(
            chain.StateFileKey,
            $"{failureSummary}: {string.Join(" | ", failures.Select(f => f.Message))}",
            new AggregateException(failures));
    }

    /// <summary>
    /// Re-reads the manifest object of <paramref name="checkpoint"/> (checked against the copy the state file carries,
    /// if any, since a lost state file is rebuilt from it) and every part against it, restoring nothing.
    /// </summary>
    /// <exception cref="CheckpointCorruptedException">The manifest or a part is missing or damaged.</exception>
    public async Task<CheckpointManifest> VerifyAsync(CheckpointReference checkpoint, CancellationToken cancellationToken)
    {
        CheckpointManifest manifest = await view.ReadStoredManifestAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        foreach (CheckpointPartInfo part in manifest.Parts)
        {
            VerifyingReadStream verifying = await OpenPartAsync(chain.Store, part, cancellationToken).ConfigureAwait(false);
            await using (verifying.ConfigureAwait(false))
            {
                try
                {
                    await verifying.DrainAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    chain.Metrics.AddBytesRead(verifying.Position, chain.Chain, chain.Provider);
                }
            }
        }

        return manifest;
    }

    /// <summary>Opens a part checked against its manifest entry: a missing part or a wrong length fails at once, a wrong checksum at the last read.</summary>
    /// <exception cref="CheckpointCorruptedException">The part is missing, of another length, or has an unsupported checksum.</exception>
    public static async Task<VerifyingReadStream> OpenPartAsync(IInputStateStore store, CheckpointPartInfo part, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(part);
        if (!PartChecksum.IsSupported(part.Checksum))
        {
            throw new CheckpointCorruptedException(part.Key, $"unsupported checksum \"{part.Checksum}\".");
        }

        StoreReadResult read = await store.ReadAsync(part.Key, 0, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointCorruptedException(part.Key, "the part is missing from the store.");
        if (read.Info.Length != part.Length)
        {
            await read.DisposeAsync().ConfigureAwait(false);
            throw new CheckpointCorruptedException(part.Key, $"the part holds {read.Info.Length} bytes, its manifest records {part.Length}.");
        }

        return new VerifyingReadStream(read.Content, part.Key, part.Length, part.Checksum);
    }

    private async Task RestoreFromAsync(CheckpointReference checkpoint, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, RestoreStats stats, CancellationToken cancellationToken)
    {
        CheckpointManifest manifest = await view.ReadManifestAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        Dictionary<string, CheckpointPartInfo> partsByName = PartsByName(checkpoint, manifest, targets);
        foreach (KeyValuePair<string, ICheckpointable> target in targets)
        {
            VerifyingReadStream verifying = await OpenPartAsync(chain.Store, partsByName[target.Key], cancellationToken).ConfigureAwait(false);
            await using (verifying.ConfigureAwait(false))
            {
                try
                {
                    try
                    {
                        await target.Value.RestoreStateAsync(verifying, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException and not CheckpointException)
                    {
                        // The target could not parse its bytes. If the bytes are damaged, that is the real cause (and a reason
                        // to fall back); if they are intact, the target's error stands.
                        await verifying.DrainAsync(cancellationToken).ConfigureAwait(false);
                        throw;
                    }

                    await verifying.DrainAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    stats.Bytes += verifying.Position;
                    chain.Metrics.AddBytesRead(verifying.Position, chain.Chain, chain.Provider);
                }
            }
        }
    }

    /// <summary>Checks the manifest against the targets: its chain, its parts' names and checksums.</summary>
    private Dictionary<string, CheckpointPartInfo> PartsByName(CheckpointReference checkpoint, CheckpointManifest manifest, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets)
    {
        if (!string.Equals(manifest.Chain, chain.Chain, StringComparison.Ordinal))
        {
            throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest belongs to chain \"{manifest.Chain}\", not \"{chain.Chain}\".");
        }

        var partsByName = new Dictionary<string, CheckpointPartInfo>(StringComparer.Ordinal);
        foreach (CheckpointPartInfo part in manifest.Parts)
        {
            if (!partsByName.TryAdd(part.Name, part))
            {
                throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest lists part \"{part.Name}\" twice.");
            }

            if (!PartChecksum.IsSupported(part.Checksum))
            {
                throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"part \"{part.Name}\" has an unsupported checksum \"{part.Checksum}\".");
            }
        }

        string[] missing = [.. targets.Select(t => t.Key).Where(name => !partsByName.ContainsKey(name))];
        string[] extra = [.. partsByName.Keys.Where(name => !targets.Any(t => t.Key == name))];
        if (missing.Length > 0 || extra.Length > 0)
        {
            throw new CheckpointMismatchException(
                checkpoint.ManifestKey,
                $"registered but not in the checkpoint: [{string.Join(", ", missing)}]; in the checkpoint but not registered: [{string.Join(", ", extra)}]. Register the same iterators, under the same names, as the job that saved it.");
        }

        return partsByName;
    }

    private void RecordFallback(CheckpointReference candidate, CheckpointCorruptedException ex, RestoreStats stats)
    {
        Interlocked.Increment(ref _fallbackCount);
        stats.Fallbacks++;
        chain.Metrics.AddFallback(chain.Chain, chain.Provider);
        if (stats.Activity is { IsAllDataRequested: true } activity)
        {
            activity.AddEvent(new ActivityEvent(
                CheckpointingActivityNames.FallbackEvent,
                tags: new ActivityTagsCollection
                {
                    [CheckpointingTagNames.Step] = candidate.Step,
                    [CheckpointingTagNames.ManifestKey] = candidate.ManifestKey,
                    [CheckpointingTagNames.ErrorType] = CheckpointingMetrics.ErrorType(ex),
                }));
        }

        CheckpointManager.Log.FallingBack(chain.Logger, chain.Chain, candidate.Step, candidate.ManifestKey, ex);
    }
}

/// <summary>What one restore read and skipped, for its log event and activity.</summary>
internal sealed class RestoreStats
{
    public long Bytes { get; set; }

    public int Fallbacks { get; set; }

    public Activity? Activity { get; init; }
}
