using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goal 11 (reported only): what the claim adds to a job's start on each store. A start is a fresh manager's
/// <see cref="CheckpointManager.ClaimAsync"/> then <see cref="CheckpointManager.RestoreLatestAsync"/>; the baseline is the
/// same restore without the claim. The requests of each are counted through a pass-through store wrapper.
/// </summary>
public static class ClaimBenchmarks
{
    private const int StateBytes = 64 * 1024;

    /// <summary>Measures a start with and without the claim on <paramref name="target"/>.</summary>
    /// <param name="target">The store.</param>
    /// <param name="counts">Warm-ups and measured runs (three times as many runs are made: each is short).</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> RunAsync(StoreTarget target, RunCounts counts, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(log);
        IInputStateStore store = target.CreateStore("claim");
        try
        {
            var state = new ByteState(StateBytes, CaptureMode.Reference, seed: 8);
            using (var writer = new CheckpointManager(store, new CheckpointManagerOptions()))
            {
                await writer.SaveAsync(1, [new("state", state.CaptureState())]);
            }

            var restored = new ByteState(StateBytes, CaptureMode.Reference, seed: 9);
            (int startRequests, string startCalls) = await CountAsync(store, claim: true, restored);
            (int restoreRequests, string restoreCalls) = await CountAsync(store, claim: false, restored);
            (TimeSpan start, TimeSpan restore) = await Harness.MeasurePairAsync(
                counts with { Runs = counts.Runs * 3 },
                _ => StartAsync(store, claim: true, restored),
                _ => StartAsync(store, claim: false, restored));
            double claimMs = start.TotalMilliseconds - restore.TotalMilliseconds;
            log.WriteLine($"  {target.Name}: start with claim {start.TotalMilliseconds:0.00} ms ({startRequests} requests: {startCalls}); restore alone {restore.TotalMilliseconds:0.00} ms ({restoreRequests}: {restoreCalls}); the claim adds {claimMs:0.00} ms and {startRequests - restoreRequests} request(s)");
            return new BenchmarkResult(
                $"11. start (claim + restore 64 KiB) vs restore alone [{target.Name}]",
                start.TotalMilliseconds,
                restore.TotalMilliseconds,
                "ms",
                Goal.ReportOnly,
                $"claim adds {claimMs:0.00} ms; requests {startRequests} ({startCalls}) vs {restoreRequests} ({restoreCalls})");
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }
    }

    private static async Task StartAsync(IInputStateStore store, bool claim, ByteState into)
    {
        // A fresh manager each time, as after a restart.
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions());
        if (claim)
        {
            await manager.ClaimAsync();
        }

        if (await manager.RestoreLatestAsync([new("state", into)]) is null)
        {
            throw new InvalidOperationException("Nothing was restored.");
        }
    }

    private static async Task<(int Count, string Calls)> CountAsync(IInputStateStore store, bool claim, ByteState into)
    {
        var counting = new FaultInjectingInputStateStore(store);
        await StartAsync(counting, claim, into);
        return (counting.CallCount, string.Join(", ", counting.Calls.Select(c => $"{c.Operation} {Describe(c.Key)}")));
    }

    private static string Describe(string key) =>
        CheckpointKeyLayout.IsPartKey(key) ? "part" : CheckpointKeyLayout.IsManifestKey(key) ? "manifest" : "state file";
}
