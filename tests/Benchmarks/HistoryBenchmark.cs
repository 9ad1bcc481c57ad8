using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goal 7: a restore after 10,000 saves with KeepMax 5 costs about what it costs after 10 saves: nothing lists the
/// whole history and no orphans pile up. Measured on the Local store (a real file system, with fsync): two chains, one
/// after 10 saves and one after 10,000, restored alternately, each time by a fresh manager, as after a restart.
/// </summary>
public static class HistoryBenchmark
{
    /// <summary>Runs the comparison.</summary>
    /// <param name="saves">The long history (10,000).</param>
    /// <param name="counts">Warm-ups and measured restores at each point.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> RunAsync(int saves, RunCounts counts, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        const int shortHistory = 10;
        using var temp = new TempDirectory("bench-history");
        var state = new ByteState(64 * 1024, CaptureMode.Copy);

        // Two chains side by side, one with a short history and one with a long one, so their restores can be measured
        // interleaved (the machine's drift affects both alike).
        var shortStore = new LocalInputStateStore(temp.Combine("short"));
        var longStore = new LocalInputStateStore(temp.Combine("long"));
        await SaveAsync(shortStore, shortHistory);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        await SaveAsync(longStore, saves);
        TimeSpan saving = System.Diagnostics.Stopwatch.GetElapsedTime(start);

        var shortTarget = new ByteState(state.Bytes.Length, CaptureMode.Copy, seed: 7);
        var longTarget = new ByteState(state.Bytes.Length, CaptureMode.Copy, seed: 7);
        (TimeSpan late, TimeSpan early) = await Harness.MeasurePairAsync(
            counts,
            run => RestoreAsync(longStore, longTarget),
            run => RestoreAsync(shortStore, shortTarget));
        if (BitConverter.ToInt64(longTarget.Bytes) != saves || BitConverter.ToInt64(shortTarget.Bytes) != shortHistory)
        {
            throw new InvalidOperationException("A restore did not restore the latest step.");
        }

        int lateObjects = await CountAsync(longStore);
        int earlyObjects = await CountAsync(shortStore);

        async Task SaveAsync(IInputStateStore store, long last)
        {
            using var manager = new CheckpointManager(store, new CheckpointManagerOptions { KeepMax = 5 });
            for (long step = 1; step <= last; step++)
            {
                state.Advance(step);
                await manager.SaveAsync(step, [new("state", state.CaptureState())]);
            }
        }

        static async Task RestoreAsync(IInputStateStore store, ByteState target)
        {
            // A fresh manager each time, as after a restart.
            using var fresh = new CheckpointManager(store, new CheckpointManagerOptions { KeepMax = 5 });
            if (await fresh.RestoreLatestAsync([new("state", target)]) is null)
            {
                throw new InvalidOperationException("Nothing was restored.");
            }
        }

        static async Task<int> CountAsync(IInputStateStore store)
        {
            int objects = 0;
            await foreach (StoreObjectInfo _ in store.ListAsync(string.Empty))
            {
                objects++;
            }

            return objects;
        }

        log.WriteLine($"  restore after {saves} saves {late.TotalMilliseconds:0.00} ms ({lateObjects} objects), after {shortHistory} saves {early.TotalMilliseconds:0.00} ms ({earlyObjects} objects); {saves - shortHistory} saves took {saving.TotalSeconds:0.0} s");
        return new BenchmarkResult(
            $"7. restore after {saves:N0} saves vs after {shortHistory} (KeepMax 5, Local)",
            late.TotalMilliseconds,
            early.TotalMilliseconds,
            "ms",
            Goal.AtMost(1.2),
            $"64 KiB state; objects in the store: {lateObjects} after {saves:N0} saves, {earlyObjects} after {shortHistory}; the saves averaged {saving.TotalMilliseconds / (saves - shortHistory):0.00} ms");
    }
}
