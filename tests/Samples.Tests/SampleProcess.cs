using System.Diagnostics;
using System.Reflection;
using System.Text;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>Runs a sample from its own build output as a child process.</summary>
internal sealed class SampleProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private SampleProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data, _stdout);
        process.ErrorDataReceived += (_, e) => Append(e.Data, _stderr);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Gets standard output and standard error, interleaved as the lines arrived.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Gets standard output alone.</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Gets standard error alone.</summary>
    public string StandardError
    {
        get
        {
            lock (_output)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The configuration the test assembly was built in (the samples were built in the same one).</summary>
    public static string Configuration { get; } =
        typeof(SampleProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string SampleDll(string sample) =>
        Path.Combine(RepositoryPaths.Root, sample is FaultHost or TorchFaultHost ? "tests" : "samples", sample, "bin", Configuration, "net10.0", sample + ".dll");

    /// <summary>SpotTraining with the test-only <c>FaultInjecting</c> store provider (tests/SpotTrainingFaultHost, tests/SampleFaults).</summary>
    public const string FaultHost = "SpotTrainingFaultHost";

    /// <summary>SpotTorch with the test-only <c>FaultInjecting</c> store provider (tests/SpotTorchFaultHost, tests/SampleFaults).</summary>
    public const string TorchFaultHost = "SpotTorchFaultHost";

    public static SampleProcess Start(string sample, string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null) =>
        StartCommand(["dotnet", SampleDll(sample), .. arguments], workingDirectory, environment);

    /// <summary>Starts <paramref name="command"/> (a program and its arguments), for example the sample under <c>unshare</c>.</summary>
    public static SampleProcess StartCommand(IReadOnlyList<string> command, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        string? dll = command.FirstOrDefault(c => c.EndsWith(".dll", StringComparison.Ordinal));
        if (dll is not null && !File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution (scripts/test.sh does) before running the sample tests.");
        }

        var info = new ProcessStartInfo(command[0])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (KeyValuePair<string, string> pair in environment ?? new Dictionary<string, string>())
        {
            info.Environment[pair.Key] = pair.Value;
        }

        return new SampleProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start."));
    }

    /// <summary>Runs to completion and returns the exit code.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string sample, string workingDirectory, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        SampleRun run = await RunToEndAsync(sample, workingDirectory, arguments, timeout, environment);
        return (run.ExitCode, run.Output);
    }

    /// <summary>Runs to completion and returns the exit code and each stream.</summary>
    public static async Task<SampleRun> RunToEndAsync(string sample, string workingDirectory, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        using SampleProcess process = Start(sample, workingDirectory, arguments, environment);
        int code = await process.WaitAsync(timeout);
        return new SampleRun(code, process.StandardOutput, process.StandardError, process.Output);
    }

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The sample did not exit within {timeout.TotalSeconds:F0} s. Its output:\n{Output}");
        }

        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends SIGTERM (the signal a spot VM's shutdown sends).</summary>
    public void Terminate()
    {
        using Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Append(string? line, StringBuilder stream)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            stream.AppendLine(line);
        }
    }
}

/// <summary>A finished run of a sample: its exit code and what it wrote.</summary>
internal sealed record SampleRun(int ExitCode, string StandardOutput, string StandardError, string Output)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";

    /// <summary>The last line of standard error (the job's one line for a failure).</summary>
    public string LastErrorLine => StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? string.Empty;

    /// <summary>Asserts that nothing looks like a stack trace: no "   at " frame and no "--- End of stack trace".</summary>
    public void AssertNoStackTrace()
    {
        Assert.True(!StandardError.Contains("   at ", StringComparison.Ordinal) && !StandardError.Contains("--- End of", StringComparison.Ordinal), $"a stack trace was printed: {this}");
        Assert.True(!StandardOutput.Contains("   at ", StringComparison.Ordinal), $"a stack trace was printed: {this}");
        Assert.DoesNotContain("Hosting failed to start", StandardError, StringComparison.Ordinal);
    }
}
