using System.CommandLine;
using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;
using InputPipeline.Checkpointing.Benchmarks;
using InputPipeline.Checkpointing.TestSupport;

if (args.Length > 0 && args[0] == MemoryBenchmark.ChildCommand)
{
    return await MemoryBenchmark.RunChildAsync(args[1..]);
}

var quick = new Option<bool>("--quick") { Description = "Fewer runs and smaller counts where the goal allows: finishes in under 10 minutes on 2 cores." };
var json = new Option<FileInfo?>("--json") { Description = "Also write the results to this file as a JSON array of {name, ours, baseline, unit, ratio, goal, passed, note}." };
var only = new Option<string[]>("--only") { Description = "Run only these goals (1-8, 11), for example --only 1 2.", AllowMultipleArgumentsPerToken = true };
var stores = new Option<string[]>("--stores") { Description = "Run goals 1, 2 and 11 only on these stores: local, azurite, moto, gcs.", AllowMultipleArgumentsPerToken = true };
var failOnMiss = new Option<bool>("--fail-on-miss") { Description = "Exit with 1 when a goal is missed." };
var root = new RootCommand("Measures InputPipelineCheckpointing against raw SDK calls and hand-written baselines, side by side in one run; see docs/BENCHMARKS.md.")
{
    quick, json, only, stores, failOnMiss,
};
root.SetAction(async (parse, cancellationToken) =>
{
    bool isQuick = parse.GetValue(quick);
    HashSet<string> goals = [.. (parse.GetValue(only) ?? []).SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries))];
    string[] unknown = [.. goals.Where(g => g is not ("1" or "2" or "3" or "4" or "5" or "6" or "7" or "8" or "11"))];
    if (unknown.Length > 0)
    {
        Console.Error.WriteLine($"--only takes goal numbers 1 to 8 and 11 (9 and 10 are TorchSharp's, scripts/bench.sh --torch); '{string.Join("', '", unknown)}' is not one.");
        return 2;
    }

    bool Runs(params string[] numbers) => goals.Count == 0 || numbers.Any(goals.Contains);
    RunCounts io = isQuick ? new RunCounts(2, 9) : new RunCounts(3, 15);
    TextWriter log = Console.Out;
    var results = new List<BenchmarkResult>();
    long started = Stopwatch.GetTimestamp();
    log.WriteLine(Machine.Describe());
    log.WriteLine(isQuick ? "mode: --quick" : "mode: full");

    // CPU-bound goals first, before any emulator process is running.
    if (Runs("5"))
    {
        log.WriteLine("== 5. pipeline throughput");
        results.Add(await PipelineBenchmarks.ThroughputAsync(isQuick, log));
        results.Add(await PipelineBenchmarks.PrefetchAsync(isQuick ? 300 : 1000, io with { Runs = 3 }, log));
    }

    if (Runs("8"))
    {
        log.WriteLine($"== 8. parallel map and interleave, TFRecord (load average {LoadAverage.Read()})");
        results.Add(await ParallelPipelineBenchmarks.ParallelMapAsync(isQuick, log));
        results.Add(await ParallelPipelineBenchmarks.CaptureStallAsync(isQuick, log));
        results.Add(await ParallelPipelineBenchmarks.TFRecordReadAsync(isQuick, log));
        results.Add(await ParallelPipelineBenchmarks.ParallelInterleaveAsync(isQuick, log));
        results.Add(await ParallelPipelineBenchmarks.PrefetchCaptureStallAsync(isQuick, log));
        log.WriteLine($"  load average after goal 8: {LoadAverage.Read()}");
    }

    if (Runs("3"))
    {
        log.WriteLine("== 3. training-thread stall");
        results.Add(await TrainingLoopBenchmarks.StallAsync(isQuick ? 8 : 20, log));
    }

    if (Runs("4"))
    {
        log.WriteLine("== 4. hook cost");
        results.Add(await TrainingLoopBenchmarks.HookCostAsync(isQuick ? new RunCounts(1, 5) : new RunCounts(1, 9), log));
    }

    if (Runs("7"))
    {
        log.WriteLine("== 7. cost against history");
        results.Add(await HistoryBenchmark.RunAsync(10_000, new RunCounts(5, isQuick ? 101 : 301), log));
    }

    if (Runs("1", "2", "6", "11"))
    {
        using var temp = new TempDirectory("bench-stores");
        log.WriteLine("== starting the emulators");
        await using AzuriteTarget azurite = await AzuriteTarget.StartAsync(temp.Combine("azurite"));
        await using MotoTarget moto = await MotoTarget.StartAsync(temp.Combine("moto"));
        await using GcsEmulatorTarget gcs = await GcsEmulatorTarget.StartAsync();
        var local = new LocalTarget(temp.Combine("local"));
        if (Runs("1", "2", "11"))
        {
            HashSet<string> chosen = new((parse.GetValue(stores) ?? []).SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries)), StringComparer.OrdinalIgnoreCase);
            StoreTarget[] targets = [local, azurite, moto, gcs];
            foreach (StoreTarget target in targets.Where(t => chosen.Count == 0 || chosen.Contains(t.Name.Split(' ')[0])))
            {
                if (Runs("1", "2"))
                {
                    log.WriteLine($"== 1-2. save and restore on {target.Name}");
                    results.AddRange(await SaveRestoreBenchmarks.RunAsync(target, io, log));
                }

                if (Runs("11"))
                {
                    log.WriteLine($"== 11. what the claim adds to a start on {target.Name}");
                    results.Add(await ClaimBenchmarks.RunAsync(target, io, log));
                }
            }
        }

        if (Runs("6"))
        {
            log.WriteLine("== 6. bounded memory");
            results.AddRange(await MemoryBenchmark.RunAsync(local, azurite, moto, gcs, 1024, log));
        }
    }

    results.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
    log.WriteLine();
    log.Write(Report.ToTable(results));
    log.WriteLine($"{results.Count(r => r.Passed == true)} met, {results.Count(r => r.Passed == false)} missed, {results.Count(r => r.Passed is null)} reported only; took {Stopwatch.GetElapsedTime(started).TotalMinutes:0.0} min");
    if (parse.GetValue(json) is { } file)
    {
        await using FileStream output = file.Create();
        Report.WriteJson(results, output);
        log.WriteLine($"wrote {file.FullName}");
    }

    return parse.GetValue(failOnMiss) && results.Any(r => r.Passed == false) ? 1 : 0;
});
return await root.Parse(args).InvokeAsync();

/// <summary>Describes the machine the figures were measured on.</summary>
internal static class Machine
{
    public static string Describe()
    {
        string cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
        }

        double memoryGiB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return $"machine: {cpu}, {Environment.ProcessorCount} logical cores, {memoryGiB:0.0} GiB; {RuntimeInformation.OSDescription}; .NET {Environment.Version}; {(GCSettings.IsServerGC ? "server" : "workstation")} GC";
    }
}

/// <summary>The machine's load average (1, 5, 15 minutes), printed beside figures that other processes can disturb.</summary>
internal static class LoadAverage
{
    public static string Read()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
