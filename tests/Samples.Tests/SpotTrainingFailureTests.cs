using InputPipeline.Checkpointing.Samples;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// One line for an expected failure: invalid configuration, an unreachable store, a damaged data directory, lost
/// ownership each end with one clear line on standard error, the documented exit code and no stack trace; an
/// unexpected exception still prints its stack; <c>--verbose</c> adds the detail.
/// </summary>
public sealed class SpotTrainingFailureTests : IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly TempDirectory _dir = new("spot-failure");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("--InputPipelineCheckpointing:SaveSteps=-3", "Invalid configuration: InputPipelineCheckpointing:SaveSteps: must be at least 1 (was -3).")]
    [InlineData("--Training:Steps=abc", "Invalid configuration: Failed to convert configuration value 'abc' at 'Training:Steps' to type 'System.Int64'.")]
    [InlineData("--Progress:Interval=00:00:00", "Invalid configuration: Progress:Interval: must be more than zero and at most a day (was 00:00:00).")]
    [InlineData("--InputPipelineCheckpointing:Provider=Nope", "Invalid configuration: InputPipelineCheckpointing:Provider:")]
    public async Task InvalidConfiguration_IsOneLineOnStandardError_ExitCode2(string argument, string line)
    {
        SampleRun run = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 10, 0, string.Empty, extra: argument), RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.InvalidConfiguration, run.ToString());
        Assert.StartsWith(line, Assert.Single(Lines(run.StandardError)), StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.StandardOutput);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task InvalidConfiguration_WithVerbose_AlsoPrintsTheDetail()
    {
        SampleRun run = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 10, 0, string.Empty, extra: ["--InputPipelineCheckpointing:SaveSteps=-3", "--verbose"]), RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.InvalidConfiguration, run.ToString());
        Assert.Contains("Invalid configuration: InputPipelineCheckpointing:SaveSteps: must be at least 1 (was -3).", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("Microsoft.Extensions.Options.OptionsValidationException", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("   at ", run.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--InputPipelineCheckpointing:Provider=S3", "--InputPipelineCheckpointing:S3:Bucket=spot-training")]

    // appsettings.json leaves Provider at its default, so Store=s3://… alone picks the S3 store (unreachable here, which
    // proves it was chosen) instead of failing as a conflict with Provider=Local.
    [InlineData("--InputPipelineCheckpointing:Store=s3://spot-training/run-42")]
    public async Task AnUnreachableStore_IsOneLineNamingTheStoreAndWhatToDo_ExitCode4(params string[] chooseStore)
    {
        int closedPort = FreePort.Get();
        var environment = new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = "test", ["AWS_SECRET_ACCESS_KEY"] = "test", ["AWS_EC2_METADATA_DISABLED"] = "true" };
        string[] args = SpotTrainingTests.Arguments(
            _dir.Path, 10, 0, string.Empty, 10,
            [
                .. chooseStore,
                "--InputPipelineCheckpointing:S3:Region=us-east-1",
                "--InputPipelineCheckpointing:S3:ForcePathStyle=true",
                $"--InputPipelineCheckpointing:S3:ServiceUrl=http://127.0.0.1:{closedPort}",
            ]);

        SampleRun run = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, args, RunTimeout, environment);

        Assert.True(run.ExitCode == JobExitCodes.CheckpointFailure, run.ToString());
        Assert.StartsWith("The S3 store cannot be used: S3 store, key \"", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains("in bucket \"spot-training\"", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains("Check the InputPipelineCheckpointing:S3 settings, the credentials and the network, then restart", run.LastErrorLine, StringComparison.Ordinal);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task ADamagedDataDirectory_IsOneLineSayingWhatToDo_ExitCode3()
    {
        SampleRun first = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 1, 0, string.Empty), RunTimeout);
        Assert.True(first.ExitCode == 0, first.ToString());
        string part = Directory.EnumerateFiles(_dir.Combine("data"), "part-*.txt").Order(StringComparer.Ordinal).First();
        await File.AppendAllTextAsync(part, "tampered\n");

        SampleRun run = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 5, 0, string.Empty), RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.UnusableData, run.ToString());
        string line = Assert.Single(Lines(run.StandardError));
        Assert.Equal($"'{part}' does not match dataset.json (changed or damaged). Delete '{_dir.Combine("data")}' to regenerate the data.", line);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task TwoCopiesOnOneChain_TheOneThatLosesOwnership_SaysSoInOneLine_ExitCode4()
    {
        // A replacement VM started while the old one still runs: both write the same chain. Whichever the commit
        // protocol fences (the newer writer wins under epoch fencing; the first to commit wins without it), that copy
        // stops with exit 4 and one line.
        string[] args(string log) => SpotTrainingTests.Arguments(_dir.Path, 1_000_000, stepDelayMs: 10, log, saveSteps: 5, "--InputPipelineCheckpointing:KeepMax=100");
        using SampleProcess first = SampleProcess.Start("SpotTraining", _dir.Path, args(_dir.Combine("first.log")));
        using (var started = new CancellationTokenSource(RunTimeout))
        {
            while (SpotTrainingTests.ReadLog(_dir.Combine("first.log")).Count < 10)
            {
                Assert.False(first.HasExited, first.Output);
                await Task.Delay(20, started.Token);
            }
        }

        using SampleProcess second = SampleProcess.Start("SpotTraining", _dir.Path, args(_dir.Combine("second.log")));
        using var deadline = new CancellationTokenSource(RunTimeout);
        while (!first.HasExited && !second.HasExited)
        {
            await Task.Delay(20, deadline.Token);
        }

        SampleProcess loser = first.HasExited ? first : second;
        int code = await loser.WaitAsync(RunTimeout);
        var run = new SampleRun(code, loser.StandardOutput, loser.StandardError, loser.Output);

        Assert.True(code == JobExitCodes.CheckpointFailure, run.ToString());
        Assert.StartsWith("Ownership lost: ", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains("Another copy of this job has taken over the chain", run.LastErrorLine, StringComparison.Ordinal);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task AnUnexpectedException_StillPrintsItsStack_ExitCode1()
    {
        SampleRun run = await SampleProcess.RunToEndAsync(SampleProcess.FaultHost, _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 50, 0, string.Empty, extra: "--FaultInjection:ThrowAtStep=5"), RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.Unexpected, run.ToString());
        Assert.Contains("Unexpected error (a bug; please report it): System.InvalidOperationException: An injected bug at step 5.", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("   at InputPipeline.Checkpointing.Samples.Faults.FaultInjectionHook.AfterRunAsync", run.StandardError, StringComparison.Ordinal);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
