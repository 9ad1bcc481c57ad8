using System.Globalization;
using InputPipeline.Checkpointing.Preemption;
using InputPipeline.Checkpointing.Samples.Internal;

namespace InputPipeline.Checkpointing.Samples;

/// <summary>The verdict on a run: is its work safe, and if not, where does a restart resume.</summary>
public sealed partial class JobProgress
{
    /// <summary>
    /// Decides the outcome of a run that ended at <paramref name="reachedStep"/>: <see cref="JobExitCodes.Done"/> when
    /// every watched chain committed a checkpoint at that step, <see cref="JobExitCodes.FinalCheckpointNotCommitted"/>
    /// otherwise, with a message that says which step a restart resumes from (the newest step at which every watched
    /// chain holds a checkpoint in the store that verifies, as each manager lists and reads it; what this process saw
    /// committed when the store cannot be read).
    /// </summary>
    /// <param name="reachedStep">The global step the run reached.</param>
    /// <param name="stopReason">What asked the run to stop before its target, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels listing the chains.</param>
    /// <returns>The exit code and the final line.</returns>
    public async Task<JobResult> FinishAsync(long reachedStep, PreemptionReason? stopReason, CancellationToken cancellationToken = default)
    {
        string ended = reachedStep >= TargetStep
            ? string.Create(CultureInfo.InvariantCulture, $"Reached global step {reachedStep} of {TargetStep}")
            : stopReason is { } reason
                ? string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {reachedStep} of {TargetStep} after a stop request ({reason})")
                : string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {reachedStep} of {TargetStep}: the input ended");

        (string Chain, ChainState State)? lagging;
        bool sessionStarted;
        lock (_gate)
        {
            sessionStarted = _sessionStarted;
            lagging = _chains.Where(c => c.Value.Latest?.Step != reachedStep).Select(c => ((string, ChainState)?)(c.Key, c.Value)).FirstOrDefault();
        }

        // Without a session (the target was already reached at start) nothing was saved here: the store tells.
        Resume? resume = sessionStarted && lagging is null ? null : await FindResumeAsync(cancellationToken).ConfigureAwait(false);
        if (resume is { Step: null, AnyCheckpoint: false } && !sessionStarted && reachedStep == 0)
        {
            return new JobResult(JobExitCodes.Done, string.Create(CultureInfo.InvariantCulture, $"{ended}: nothing to train, and nothing to save."));
        }

        if (resume is null || resume.Step == reachedStep)
        {
            return new JobResult(JobExitCodes.Done, string.Create(CultureInfo.InvariantCulture, $"{ended}; the checkpoint at step {reachedStep} is committed."));
        }

        string why = lagging is { State.LastFailure: { } failure } l
            ? $" ({l.Chain}: {JobFailures.OneLine(failure.Message).TrimEnd('.')})"
            : lagging is { } missing ? string.Create(CultureInfo.InvariantCulture, $" ({missing.Chain}: no checkpoint at step {reachedStep})") : string.Empty;
        string restart = resume.Step switch
        {
            { } step => string.Create(CultureInfo.InvariantCulture, $"A restart resumes from step {step} and repeats {reachedStep - step} steps"),
            null when resume.AnyCheckpoint => $"A restart cannot resume: no step is committed in every chain ({resume.Steps})",
            null => "A restart starts from step 0",
        };
        return new JobResult(
            JobExitCodes.FinalCheckpointNotCommitted,
            string.Create(CultureInfo.InvariantCulture, $"{ended}, but the checkpoint at step {reachedStep} did not commit{why}. {restart}{resume.Basis}."));
    }

    /// <summary>
    /// Returns the newest step a restart resumes from, as far as this process saw commits (no request to the store), or
    /// <see langword="null"/> when no step is committed in every watched chain.
    /// </summary>
    /// <returns>The step.</returns>
    public long? CommittedEverywhere()
    {
        lock (_gate)
        {
            return CommonStep(_chains.Values.Select(c => (IEnumerable<long>)c.Committed));
        }
    }

    private static long? CommonStep(IEnumerable<IEnumerable<long>> chains)
    {
        HashSet<long>? common = null;
        foreach (IEnumerable<long> steps in chains)
        {
            if (common is null)
            {
                common = [.. steps];
            }
            else
            {
                common.IntersectWith(steps);
            }
        }

        return common is { Count: > 0 } ? common.Max() : null;
    }

    private async Task<Resume> FindResumeAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(FindResumeTimeout);
        var listed = new List<(CheckpointManager Manager, IReadOnlyList<CheckpointReference> Retained)>();
        var damaged = new List<long>();
        long? step;
        try
        {
            foreach (CheckpointManager manager in Managers())
            {
                listed.Add((manager, await manager.ListCheckpointsAsync(timeout.Token).ConfigureAwait(false)));
            }

            step = await NewestSoundCommonStepAsync(listed, damaged, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CheckpointException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            lock (_gate)
            {
                return new Resume(
                    CommonStep(_chains.Values.Select(c => (IEnumerable<long>)c.Committed)),
                    _chains.Values.Any(c => c.Committed.Count > 0),
                    string.Join("; ", _chains.Select(c => $"{c.Key}: {string.Join(", ", c.Value.Committed.Order())}")),
                    $" (as far as this run saw: the store could not be listed or read: {JobFailures.OneLine(ex.Message)})");
            }
        }

        return new Resume(
            step,
            listed.Any(l => l.Retained.Count > 0),
            string.Join("; ", listed.Select(l => $"{l.Manager.Chain}: {(l.Retained.Count == 0 ? "none" : string.Join(", ", l.Retained.Select(r => r.Step)))}")),
            damaged.Count == 0 ? string.Empty : $" (the checkpoints at step {string.Join(", ", damaged)} do not verify)");
    }

    /// <summary>
    /// Returns the newest step every chain holds a checkpoint of that verifies (every part read and checked), as a
    /// restart's restore with fallback would find it; adds the common steps passed over as damaged to <paramref name="damaged"/>.
    /// </summary>
    private static async Task<long?> NewestSoundCommonStepAsync(
        List<(CheckpointManager Manager, IReadOnlyList<CheckpointReference> Retained)> listed,
        List<long> damaged,
        CancellationToken cancellationToken)
    {
        if (listed.Count == 0)
        {
            return null;
        }

        IEnumerable<long> common = listed.Select(l => l.Retained.Select(r => r.Step)).Aggregate((a, b) => a.Intersect(b));
        foreach (long step in common.Distinct().OrderDescending().ToList())
        {
            bool sound = true;
            foreach ((CheckpointManager manager, IReadOnlyList<CheckpointReference> retained) in listed)
            {
                if (!await VerifiesAsync(manager, retained.Where(r => r.Step == step), cancellationToken).ConfigureAwait(false))
                {
                    sound = false;
                    break;
                }
            }

            if (sound)
            {
                return step;
            }

            damaged.Add(step);
        }

        return null;
    }

    private static async Task<bool> VerifiesAsync(CheckpointManager manager, IEnumerable<CheckpointReference> checkpoints, CancellationToken cancellationToken)
    {
        foreach (CheckpointReference checkpoint in checkpoints)
        {
            try
            {
                await manager.VerifyAsync(checkpoint, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (CheckpointCorruptedException)
            {
                // A checkpoint saved twice at one step (a final save after a periodic one) may have a sound copy.
            }
        }

        return false;
    }

    private sealed record Resume(long? Step, bool AnyCheckpoint, string Steps, string Basis);
}
