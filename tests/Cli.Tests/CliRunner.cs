using System.Diagnostics;
using System.Reflection;
using System.Text;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>The outcome of one <c>ckpt</c> run.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";

    /// <summary>Asserts the exit code, showing both outputs when it differs.</summary>
    public CliResult Expect(int exitCode)
    {
        Assert.True(ExitCode == exitCode, $"expected exit {exitCode}, got {this}");
        return this;
    }

    /// <summary>Asserts an expected failure: the exit code, one "ckpt: " message containing <paramref name="fragment"/>, and no stack trace.</summary>
    public CliResult ExpectFailure(int exitCode, string fragment)
    {
        Expect(exitCode);
        Assert.Contains("ckpt: ", Error);
        Assert.True(Error.Contains(fragment, StringComparison.Ordinal), $"stderr lacks \"{fragment}\": {this}");
        Assert.DoesNotContain("   at ", Error);
        Assert.DoesNotContain("Exception:", Error);
        return this;
    }
}

/// <summary>Runs the tool in-process through <see cref="CliApp.RunAsync(string[], CliSettings, CancellationToken)"/>.</summary>
public static class Ckpt
{
    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, environment: null);

    public static async Task<CliResult> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment, bool showProgress = false, CancellationToken cancellationToken = default)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var settings = new CliSettings
        {
            Output = output,
            Error = error,
            GetEnvironmentVariable = name => environment is not null && environment.TryGetValue(name, out string? value) ? value : null,
            ShowProgress = showProgress,
            ProgressThreshold = 0,
        };
        int code = await CliApp.RunAsync(args, settings, cancellationToken);
        return new CliResult(code, output.ToString(), error.ToString());
    }
}

/// <summary>Runs the built <c>ckpt</c> executable (src/Cli's build output) as a child process.</summary>
public static class CkptProcess
{
    /// <summary>The configuration the test assembly was built in; src/Cli was built in the same one.</summary>
    public static string Configuration { get; } =
        typeof(CkptProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string ToolDll => Path.Combine(RepositoryPaths.Root, "src", "Cli", "bin", Configuration, "net10.0", "ckpt.dll");

    public static Task<CliResult> RunAsync(string[] args, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        Assert.True(File.Exists(ToolDll), $"{ToolDll} is missing: build src/Cli (the test project's build does).");
        return RunCommandAsync(["dotnet", ToolDll, .. args], environment, timeout);
    }

    /// <summary>Runs <paramref name="command"/> (a program and its arguments, for example the tool under <c>unshare</c>).</summary>
    public static async Task<CliResult> RunCommandAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        string[] args = [.. command.Skip(1)];
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (KeyValuePair<string, string?> pair in environment ?? new Dictionary<string, string?>())
        {
            if (pair.Value is null)
            {
                info.Environment.Remove(pair.Key);
            }
            else
            {
                info.Environment[pair.Key] = pair.Value;
            }
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ckpt {string.Join(' ', args)} did not finish in time. Output so far:\n{stdout}\n{stderr}");
        }

        process.WaitForExit();
        lock (stdout)
        {
            lock (stderr)
            {
                return new CliResult(process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }
}
