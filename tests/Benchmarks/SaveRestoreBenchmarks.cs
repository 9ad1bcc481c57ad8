using System.Globalization;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goals 1 and 2: a full save (parts, manifest, state-file swap, retention) against one raw upload of the same bytes,
/// and a restore by a fresh manager (the state file, which carries the latest manifest, and the verified part) against
/// one raw download, on each store.
/// </summary>
public static class SaveRestoreBenchmarks
{
    private const int MiB = 1024 * 1024;

    /// <summary>Runs both goals on <paramref name="target"/>.</summary>
    /// <param name="target">The store.</param>
    /// <param name="counts">Warm-ups and measured runs for the 64 MiB figures (the 1 MiB ones run three times as often).</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The results.</returns>
    public static async Task<IReadOnlyList<BenchmarkResult>> RunAsync(StoreTarget target, RunCounts counts, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(log);
        var results = new List<BenchmarkResult>();
        foreach (int mib in new[] { 64, 1 })
        {
            RunCounts sized = mib == 64 ? counts : counts with { Runs = counts.Runs * 3 };
            var state = new ByteState(mib * MiB, CaptureMode.Reference, seed: mib);
            IInputStateStore store = target.CreateStore($"save-{mib}mib");
            try
            {
                using var manager = new CheckpointManager(store, new CheckpointManagerOptions());
                long step = 0;
                (TimeSpan ours, TimeSpan raw) = await Harness.MeasurePairAsync(
                    sized,
                    async _ => await manager.SaveAsync(++step, [new("state", state.CaptureState())]),
                    // One key, overwritten by every run: like the save's retention, each upload frees the space of an
                    // earlier one (on this VM, writing into freshly allocated page-cache pages costs 3-4x more).
                    async _ => await target.RawUploadAsync(string.Create(CultureInfo.InvariantCulture, $"upload-{mib}"), state.Bytes));
                results.Add(new BenchmarkResult(
                    $"1. save {mib} MiB vs raw upload [{target.Name}]",
                    ours.TotalMilliseconds,
                    raw.TotalMilliseconds,
                    "ms",
                    mib == 64 ? Goal.AtMost(1.15) : Goal.ReportOnly,
                    $"baseline: {target.RawUpload}; ours: parts + manifest + state-file swap + retention (KeepMax 5)"));
                log.WriteLine($"  {target.Name}: save {mib} MiB {ours.TotalMilliseconds:0.0} ms, raw upload {raw.TotalMilliseconds:0.0} ms");

                if (mib == 64)
                {
                    string rawKey = "down-64";
                    await target.RawUploadAsync(rawKey, state.Bytes);
                    byte[] into = GC.AllocateUninitializedArray<byte>(state.Bytes.Length);
                    var restored = new ByteState(state.Bytes.Length, CaptureMode.Reference, seed: 99);
                    (TimeSpan restore, TimeSpan download) = await Harness.MeasurePairAsync(
                        counts,
                        async run =>
                        {
                            // A fresh manager, as after a restart: it reads the state file (with the manifest) and the part.
                            using var fresh = new CheckpointManager(store, new CheckpointManagerOptions());
                            if (await fresh.RestoreLatestAsync([new("state", restored)]) is null)
                            {
                                throw new InvalidOperationException("Nothing was restored.");
                            }
                        },
                        async _ =>
                        {
                            int read = await target.RawDownloadAsync(rawKey, into);
                            if (read != into.Length)
                            {
                                throw new InvalidOperationException($"The raw download read {read} bytes, not {into.Length}.");
                            }
                        });
                    if (!restored.Bytes.AsSpan(sizeof(long)).SequenceEqual(state.Bytes.AsSpan(sizeof(long))))
                    {
                        throw new InvalidOperationException("The restored state differs from the saved one.");
                    }

                    results.Add(new BenchmarkResult(
                        $"2. restore 64 MiB vs raw download [{target.Name}]",
                        restore.TotalMilliseconds,
                        download.TotalMilliseconds,
                        "ms",
                        Goal.AtMost(1.15),
                        $"baseline: {target.RawDownload}; ours: state file (carrying the manifest) + part, verified (length, XXH3)"));
                    log.WriteLine($"  {target.Name}: restore 64 MiB {restore.TotalMilliseconds:0.0} ms, raw download {download.TotalMilliseconds:0.0} ms");
                }
            }
            finally
            {
                (store as IDisposable)?.Dispose();
            }
        }

        if (target.CountsRequests)
        {
            results.AddRange(await CountRequestsAsync(target, log));
        }

        return results;
    }

    /// <summary>
    /// The HTTP requests (every attempt) of a small save in the steady state (KeepMax reached, so retention deletes
    /// too), averaged over 10 saves, and of a fresh manager's restore; against the raw upload and download of the same bytes.
    /// </summary>
    private static async Task<IReadOnlyList<BenchmarkResult>> CountRequestsAsync(StoreTarget target, TextWriter log)
    {
        const int Saves = 10;
        var counter = new RequestCounter();
        IInputStateStore store = target.CreateCountedStore("requests", counter);
        try
        {
            var state = new ByteState(4 * 1024, CaptureMode.Reference, seed: 7);
            using var manager = new CheckpointManager(store, new CheckpointManagerOptions());
            long step = 0;
            while (step < 8)
            {
                await manager.SaveAsync(++step, [new("state", state.CaptureState())]);
            }

            counter.Reset();
            for (int i = 0; i < Saves; i++)
            {
                await manager.SaveAsync(++step, [new("state", state.CaptureState())]);
            }

            double perSave = counter.Count / (double)Saves;
            target.RawRequests.Reset();
            await target.RawUploadAsync("requests-4k", state.Bytes);
            int rawUpload = target.RawRequests.Count;

            counter.Reset();
            using (var fresh = new CheckpointManager(store, new CheckpointManagerOptions()))
            {
                _ = await fresh.RestoreLatestAsync([new("state", new ByteState(state.Bytes.Length, CaptureMode.Reference, seed: 8))])
                    ?? throw new InvalidOperationException("Nothing was restored.");
            }

            int restore = counter.Count;
            target.RawRequests.Reset();
            await target.RawDownloadAsync("requests-4k", new byte[state.Bytes.Length]);
            int rawDownload = target.RawRequests.Count;
            log.WriteLine($"  {target.Name}: a 4 KiB save sends {perSave:0.0} requests (raw upload {rawUpload}), a restore {restore} (raw download {rawDownload})");
            return
            [
                new BenchmarkResult($"1. requests per 4 KiB save vs raw upload [{target.Name}]", perSave, rawUpload, "requests", Goal.ReportOnly, $"steady state (KeepMax 5: retention deletes), mean of {Saves} saves; baseline: {target.RawUpload}"),
                new BenchmarkResult($"2. requests per restore vs raw download [{target.Name}]", restore, rawDownload, "requests", Goal.ReportOnly, $"a fresh manager: state file + manifest + part; baseline: {target.RawDownload}"),
            ];
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }
    }
}
