using System.Diagnostics;
using System.Globalization;
using InputPipeline.Checkpointing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing;

/// <summary>A step every chain of a job has committed: restoring each chain at it gives a consistent state.</summary>
public sealed record ConsistentCut
{
    /// <summary>Gets the step every chain has a checkpoint at.</summary>
    public required long Step { get; init; }

    /// <summary>Gets each chain's checkpoint at <see cref="Step"/>, by chain.</summary>
    public required IReadOnlyDictionary<string, CheckpointReference> Checkpoints { get; init; }

    /// <summary>Gets whether every checkpoint of the cut was verified (every part re-read and its checksum checked).</summary>
    public required bool Verified { get; init; }

    /// <summary>Gets the newer steps every chain has committed that were passed over because a checkpoint at them is damaged, newest first.</summary>
    public required IReadOnlyList<long> SkippedSteps { get; init; }
}

/// <summary>
/// Finds consistent cuts across chains: the latest step that <em>all</em> given chains have committed, for example the
/// chains <c>input_worker_0</c> … <c>input_worker_3</c> of four workers, so that every worker restores exactly that step
/// (<see cref="InputRestoreMode.AtStep"/>) and no worker's data stream runs ahead of another's.
/// </summary>
/// <remarks>
/// Compute the cut before any worker saves again (for example once, on the chief, before training starts, and hand the
/// step to every worker): a worker that has already saved several checkpoints past the cut may have retired it.
/// </remarks>
public static partial class CheckpointCuts
{
    /// <summary>
    /// Returns the chain of worker <paramref name="taskId"/> of a job with several worker replicas:
    /// <c>input_&lt;taskType&gt;_&lt;taskId&gt;</c>, the chain its <see cref="CheckpointInputPipelineHook"/> writes.
    /// </summary>
    /// <param name="taskType">The task type, for example <c>worker</c>.</param>
    /// <param name="taskId">The task id; zero or more.</param>
    /// <returns>The chain name.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="taskId"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="taskType"/> is null or empty.</exception>
    public static string WorkerChain(string taskType, int taskId)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskType);
        ArgumentOutOfRangeException.ThrowIfNegative(taskId);
        return CheckpointKeyLayout.WorkerChain(CheckpointKeyLayout.InputChain, taskType, taskId);
    }

    /// <summary>
    /// Finds the latest step that every chain of the <paramref name="numWorkerReplicas"/> workers of type
    /// <paramref name="taskType"/> has committed (one worker: the chain <c>input</c>).
    /// </summary>
    /// <param name="store">The store the chains live in.</param>
    /// <param name="taskType">The workers' task type, for example <c>worker</c>.</param>
    /// <param name="numWorkerReplicas">The number of workers; at least 1.</param>
    /// <param name="verify">
    /// Whether to verify every checkpoint of a candidate step and move back past a step where one is damaged. Default
    /// <see langword="true"/>. Without it, a damaged checkpoint fails that worker's restore instead.
    /// </param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>The cut, or <see langword="null"/> when no chain has any checkpoint (a fresh start).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numWorkerReplicas"/> is less than 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="taskType"/> does not make valid chain names.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    /// <exception cref="CheckpointNotFoundException">Some chain has checkpoints, but no step is retained (and, with <paramref name="verify"/>, sound) in every chain; the message lists each chain's steps.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<ConsistentCut?> FindLatestCommonStepAsync(IInputStateStore store, string taskType, int numWorkerReplicas, bool verify = true, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numWorkerReplicas, 1);
        IEnumerable<string> chains = numWorkerReplicas == 1
            ? [CheckpointKeyLayout.InputChain]
            : Enumerable.Range(0, numWorkerReplicas).Select(id => WorkerChain(taskType, id));
        return FindLatestCommonStepAsync(store, chains, verify, loggerFactory, cancellationToken);
    }

    /// <summary>Finds the latest step that every one of <paramref name="chains"/> has committed.</summary>
    /// <param name="store">The store the chains live in.</param>
    /// <param name="chains">The chains, for example <c>input_worker_0</c> … <c>input_worker_3</c>; each with its default state file <c>checkpoint_&lt;chain&gt;</c>.</param>
    /// <param name="verify">Whether to verify every checkpoint of a candidate step and move back past damaged ones. Default <see langword="true"/>.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>The cut, or <see langword="null"/> when no chain has any checkpoint (a fresh start).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="chains"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="chains"/> is empty, repeats a chain, or holds an invalid chain name.</exception>
    /// <exception cref="CheckpointNotFoundException">Some chain has checkpoints, but no step is retained (and, with <paramref name="verify"/>, sound) in every chain; the message lists each chain's steps.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<ConsistentCut?> FindLatestCommonStepAsync(IInputStateStore store, IEnumerable<string> chains, bool verify = true, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(chains);
        string[] names = [.. chains];
        var managers = new List<CheckpointManager>(names.Length);
        try
        {
            foreach (string chain in names)
            {
                try
                {
                    managers.Add(new CheckpointManager(store, new CheckpointManagerOptions { Chain = chain }, loggerFactory?.CreateLogger<CheckpointManager>()));
                }
                catch (CheckpointOptionsException ex)
                {
                    throw new ArgumentException($"\"{chain}\" is not a valid chain name: {ex.Message}", nameof(chains), ex);
                }
            }

            return await FindLatestCommonStepAsync(managers, verify, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (CheckpointManager manager in managers)
            {
                manager.Dispose();
            }
        }
    }

    /// <summary>
    /// Finds the latest step that every chain of <paramref name="managers"/> has committed; managers carry each chain's
    /// state file, so a cut can span, say, a model chain and the input chains.
    /// </summary>
    /// <param name="managers">One manager per chain.</param>
    /// <param name="verify">Whether to verify every checkpoint of a candidate step and move back past damaged ones. Default <see langword="true"/>.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>The cut, or <see langword="null"/> when no chain has any checkpoint (a fresh start).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="managers"/> is null or holds null.</exception>
    /// <exception cref="ArgumentException"><paramref name="managers"/> is empty or has two managers of one chain.</exception>
    /// <exception cref="CheckpointNotFoundException">Some chain has checkpoints, but no step is retained (and, with <paramref name="verify"/>, sound) in every chain; the message lists each chain's steps.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<ConsistentCut?> FindLatestCommonStepAsync(IEnumerable<CheckpointManager> managers, bool verify = true, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(managers);
        CheckpointManager[] chains = [.. managers];
        if (chains.Length == 0)
        {
            throw new ArgumentException("At least one chain is needed.", nameof(managers));
        }

        if (chains.Any(m => m is null))
        {
            throw new ArgumentNullException(nameof(managers), "A manager is null.");
        }

        if (chains.Select(m => m.Chain).Distinct(StringComparer.Ordinal).Count() != chains.Length)
        {
            throw new ArgumentException("A chain is given more than once.", nameof(managers));
        }

        ILogger logger = loggerFactory?.CreateLogger(typeof(CheckpointCuts)) ?? NullLogger.Instance;
        using Activity? activity = CheckpointingMetrics.ActivitySource.StartActivity(CheckpointingActivityNames.Cut, ActivityKind.Internal);
        activity?.SetTag(CheckpointingTagNames.ChainCount, chains.Length);
        try
        {
            ConsistentCut? cut = await FindCoreAsync(chains, verify, logger, cancellationToken).ConfigureAwait(false);
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag(CheckpointingTagNames.Outcome, cut is null ? CheckpointingTagValues.Empty : CheckpointingTagValues.Success);
                if (cut is not null)
                {
                    activity.SetTag(CheckpointingTagNames.Step, cut.Step);
                }
            }

            return cut;
        }
        catch (Exception ex)
        {
            CheckpointingMetrics.SetFailure(activity, ex, ex is OperationCanceledException && cancellationToken.IsCancellationRequested);
            throw;
        }
    }

    private static async Task<ConsistentCut?> FindCoreAsync(CheckpointManager[] chains, bool verify, ILogger logger, CancellationToken cancellationToken)
    {
        var retained = new IReadOnlyList<CheckpointReference>[chains.Length];
        for (int i = 0; i < chains.Length; i++)
        {
            retained[i] = await chains[i].ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
        }

        if (retained.All(r => r.Count == 0))
        {
            Log.NoCheckpoints(logger, chains.Length);
            return null;
        }

        IEnumerable<long> common = retained[0].Select(r => r.Step);
        for (int i = 1; i < retained.Length; i++)
        {
            common = common.Intersect(retained[i].Select(r => r.Step));
        }

        var skipped = new List<long>();
        foreach (long step in common.Distinct().OrderByDescending(s => s))
        {
            var checkpoints = new Dictionary<string, CheckpointReference>(StringComparer.Ordinal);
            bool sound = true;
            for (int i = 0; i < chains.Length && sound; i++)
            {
                CheckpointReference checkpoint = retained[i].First(r => r.Step == step);
                checkpoints[chains[i].Chain] = checkpoint;
                if (!verify)
                {
                    continue;
                }

                try
                {
                    await chains[i].VerifyAsync(checkpoint, cancellationToken).ConfigureAwait(false);
                }
                catch (CheckpointCorruptedException ex)
                {
                    Log.StepDamaged(logger, step, chains[i].Chain, ex);
                    sound = false;
                }
            }

            if (!sound)
            {
                skipped.Add(step);
                continue;
            }

            Log.CutFound(logger, chains.Length, step, Describe(chains, retained, latestOnly: true));
            return new ConsistentCut { Step = step, Checkpoints = checkpoints, Verified = verify, SkippedSteps = skipped };
        }

        string damaged = skipped.Count == 0 ? string.Empty : $"; damaged at common steps {string.Join(", ", skipped)}";
        throw new CheckpointNotFoundException(
            string.Join(",", chains.Select(c => c.Chain)),
            $"no step is retained{(verify ? " and sound" : string.Empty)} in every one of the {chains.Length} chains ({Describe(chains, retained, latestOnly: false)}{damaged}); their data streams cannot be restored consistently.");
    }

    private static string Describe(CheckpointManager[] chains, IReadOnlyList<CheckpointReference>[] retained, bool latestOnly)
    {
        IEnumerable<string> parts = chains.Select((c, i) =>
        {
            IEnumerable<long> steps = retained[i].Select(r => r.Step);
            string list = retained[i].Count == 0 ? "none" : string.Join(", ", latestOnly ? steps.Take(1) : steps);
            return $"{c.Chain}: {list}";
        });
        return string.Join("; ", parts);
    }

    private static partial class Log
    {
        [LoggerMessage(1160, LogLevel.Information, "Consistent cut of {ChainCount} chains at step {Step} (latest steps: {LatestSteps}).")]
        public static partial void CutFound(ILogger logger, int chainCount, long step, string latestSteps);

        [LoggerMessage(1161, LogLevel.Warning, "Step {Step} cannot be the consistent cut: the checkpoint of chain {Chain} at it is damaged; trying the previous common step.")]
        public static partial void StepDamaged(ILogger logger, long step, string chain, Exception exception);

        [LoggerMessage(1162, LogLevel.Information, "None of the {ChainCount} chains has a checkpoint; there is no cut (a fresh start).")]
        public static partial void NoCheckpoints(ILogger logger, int chainCount);
    }
}
