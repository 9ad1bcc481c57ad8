using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using InputPipeline.Checkpointing.Benchmarks;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.TorchSharp.Benchmarks;

/// <summary>
/// Goal 10: a 2,000-step SpotTorch run checkpointing both chains every 50 steps to the Local store, against the same run
/// without periodic checkpoints (SaveSteps beyond the last step: only the step-0 and final saves every run makes). Each
/// run is its own process in a fresh checkpoint folder, over the same generated data; runs alternate, and the figure is
/// the median of the training times SpotTorch reports (the resume, every step and the final save; not start-up).
/// </summary>
internal static partial class OverheadBenchmark
{
    private const int Steps = 2000;
    private const int SaveSteps = 50;

    public static async Task<BenchmarkResult> RunAsync(int pairs, TextWriter log)
    {
        using var temp = new TempDirectory("torch-overhead");
        string data = temp.Combine("data");
        await RunAsync(temp, data, "warm-up", 10, 5); // generates the data and warms the disk cache
        var ours = new List<double>();
        var baseline = new List<double>();
        for (int i = 0; i < pairs; i++)
        {
            // Alternate which goes first, so a drift of the machine affects both alike.
            bool oursFirst = i % 2 == 1;
            double a = await RunAsync(temp, data, $"run-{i}-{(oursFirst ? "ours" : "baseline")}", Steps, oursFirst ? SaveSteps : int.MaxValue);
            double b = await RunAsync(temp, data, $"run-{i}-{(oursFirst ? "baseline" : "ours")}", Steps, oursFirst ? int.MaxValue : SaveSteps);
            ours.Add(oursFirst ? a : b);
            baseline.Add(oursFirst ? b : a);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  pair {i + 1}: every {SaveSteps} steps {ours[^1]:0.000} s, without {baseline[^1]:0.000} s"));
        }

        return new BenchmarkResult(
            $"10. SpotTorch {Steps} steps, checkpoints every {SaveSteps} steps (Local)",
            Harness.Median(ours),
            Harness.Median(baseline),
            "s",
            Goal.AtMost(1.03),
            $"median training time of {pairs} runs each vs the same run without periodic checkpoints");
    }

    private static async Task<double> RunAsync(TempDirectory temp, string data, string name, int steps, int saveSteps)
    {
        string dll = Path.Combine(RepositoryPaths.Root, "samples", "SpotTorch", "bin", Configuration, "net10.0", "SpotTorch.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = temp.Path };
        foreach (string argument in new[]
        {
            dll,
            $"--Training:Steps={steps}",
            $"--Training:DataDir={data}",
            $"--InputPipelineCheckpointing:SaveSteps={saveSteps}",
            $"--InputPipelineCheckpointing:Local:Path={temp.Combine(name)}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:InputPipeline.Checkpointing=Warning",
        })
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Match trained = Trained().Match(await output);
        if (process.ExitCode != 0 || !trained.Success)
        {
            throw new InvalidOperationException($"SpotTorch ({name}) exited with {process.ExitCode}:\n{await output}\n{await errors}");
        }

        return double.Parse(trained.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string Configuration =>
        typeof(OverheadBenchmark).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    [GeneratedRegex(@"Trained \d+ steps in ([0-9.]+) s\.")]
    private static partial Regex Trained();
}
