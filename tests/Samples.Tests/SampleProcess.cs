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

    private SampleProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

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

    /// <summary>The configuration the test assembly was built in (the samples were built in the same one).</summary>
    public static string Configuration { get; } =
        typeof(SampleProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string SampleDll(string sample) =>
        Path.Combine(RepositoryPaths.Root, "samples", sample, "bin", Configuration, "net10.0", sample + ".dll");

    public static SampleProcess Start(string sample, string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        string dll = SampleDll(sample);
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution (scripts/test.sh does) before running the sample tests.");
        }

        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (string argument in arguments)
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
        using SampleProcess process = Start(sample, workingDirectory, arguments, environment);
        int code = await process.WaitAsync(timeout);
        return (code, process.Output);
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

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
