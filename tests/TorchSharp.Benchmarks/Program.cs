using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using InputPipeline.Checkpointing.Benchmarks;
using InputPipeline.Checkpointing.TorchSharp.Benchmarks;
using TorchSharp;

var quick = new Option<bool>("--quick") { Description = "Fewer checkpoints and runs: about 5 minutes on 2 cores." };
var json = new Option<FileInfo?>("--json") { Description = "Also write the results to this file as a JSON array of {name, ours, baseline, unit, ratio, goal, passed, note}." };
var only = new Option<string[]>("--only") { Description = "Run only these goals (9, 10), for example --only 9.", AllowMultipleArgumentsPerToken = true };
var failOnMiss = new Option<bool>("--fail-on-miss") { Description = "Exit with 1 when a goal is missed." };
var root = new RootCommand("Measures the TorchSharp training-state checkpointing against hand-written baselines, side by side in one run; see docs/BENCHMARKS.md.")
{
    quick, json, only, failOnMiss,
};
root.SetAction(async (parse, cancellationToken) =>
{
    bool isQuick = parse.GetValue(quick);
    HashSet<string> goals = [.. (parse.GetValue(only) ?? []).SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries))];
    if (goals.FirstOrDefault(g => g is not ("9" or "10")) is { } unknown)
    {
        Console.Error.WriteLine($"--only takes the TorchSharp goal numbers 9 and 10; '{unknown}' is not one.");
        return 2;
    }

    // One intra-op thread, set before any torch operation (libtorch applies it to each thread at its first operation):
    // the other core is left to the background saves, as SpotTorch's default does.
    torch.set_num_threads(1);
    TextWriter log = Console.Out;
    long started = Stopwatch.GetTimestamp();
    log.WriteLine($"machine: {Environment.ProcessorCount} logical cores; {RuntimeInformation.OSDescription}; .NET {Environment.Version}; LibTorch {torch.__version__}, 1 intra-op thread");
    log.WriteLine(isQuick ? "mode: --quick" : "mode: full");
    var results = new List<BenchmarkResult>();
    if (goals.Count == 0 || goals.Contains("9"))
    {
        log.WriteLine("== 9. training-thread stall per checkpoint");
        results.Add(await StallBenchmark.RunAsync(isQuick ? 6 : 15, log));
    }

    if (goals.Count == 0 || goals.Contains("10"))
    {
        log.WriteLine("== 10. SpotTorch with and without checkpoints");
        results.Add(await OverheadBenchmark.RunAsync(isQuick ? 3 : 5, log));
    }

    log.WriteLine();
    log.Write(Report.ToTable(results));
    log.WriteLine($"{results.Count(r => r.Passed == true)} met, {results.Count(r => r.Passed == false)} missed; took {Stopwatch.GetElapsedTime(started).TotalMinutes:0.0} min");
    if (parse.GetValue(json) is { } file)
    {
        await using FileStream output = file.Create();
        Report.WriteJson(results, output);
        log.WriteLine($"wrote {file.FullName}");
    }

    return parse.GetValue(failOnMiss) && results.Any(r => r.Passed == false) ? 1 : 0;
});
return await root.Parse(args).InvokeAsync();
