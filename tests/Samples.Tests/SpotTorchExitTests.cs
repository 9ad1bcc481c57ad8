using System.Globalization;
using System.Text.RegularExpressions;
using InputPipeline.Checkpointing.Samples;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// SpotTorch follows the rules every sample job shares (samples/Shared), as SpotTraining does: exit 0 only when both
/// chains (model and input) committed the final step, otherwise exit 5 naming the step a restart resumes from, checked
/// by restarting; plain progress lines and no routine commits when redirected; one line and the documented code for an
/// expected failure, a stack trace only for a bug; and on exit 0 the <c>params</c> line is still the last line of
/// standard output.
/// </summary>
[Collection(SpotTorchTestGroup.Name)]
public sealed partial class SpotTorchExitTests : IClassFixture<SpotTorchReference>, IDisposable
{
    private readonly SpotTorchReference _reference;
    private readonly TempDirectory _dir = new("torch-exit");

    public SpotTorchExitTests(SpotTorchReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AStoreThatFailsEveryWriteAfterStepK_ExitsWith5_AndARestartResumesFromK_BitForBit()
    {
        string log = _dir.Combine("loss.log");
        string[] faulty = SpotTorchTests.Arguments(
            _dir.Path, 100, log, saveSteps: 10,
            "--InputPipelineCheckpointing:Provider=FaultInjecting",
            "--InputPipelineCheckpointing:SaveInBackground=false",
            "--FaultInjection:FailWritesAfterStep=40");

        SampleRun run = await SampleProcess.RunToEndAsync(SampleProcess.TorchFaultHost, _dir.Path, faulty, SpotTorchTests.RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.FinalCheckpointNotCommitted, run.ToString());
        Assert.StartsWith("Reached global step 100 of 100, but the checkpoint at step 100 did not commit (model: Local store, key \"model.ckpt-100.", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains("Injected fault", run.LastErrorLine, StringComparison.Ordinal);
        Assert.EndsWith("A restart resumes from step 40 and repeats 60 steps.", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.StandardOutput); // no params line: the run's weights are not safe
        Assert.Contains("fail: CheckpointInputPipelineHook[1103] Saving the input checkpoint of chain input at step 50 failed", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("of chain model at step 50 failed", run.StandardError, StringComparison.Ordinal);
        run.AssertNoStackTrace();

        // The claim holds: the restart (on the same directory, now a healthy store) runs step 41 next, every step with the
        // uninterrupted run's loss bits, and ends with the weights of an uninterrupted 100-step run.
        SampleRun restart = await SampleProcess.RunToEndAsync("SpotTorch", _dir.Path, SpotTorchTests.Arguments(_dir.Path, 100, log, saveSteps: 10), SpotTorchTests.RunTimeout);

        Assert.True(restart.ExitCode == JobExitCodes.Done, restart.ToString());
        List<(long Step, string Bits)> lines = SpotTorchTests.ReadLog(log);
        Assert.Equal(Enumerable.Range(1, 100).Concat(Enumerable.Range(41, 60)).Select(i => (long)i), lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal(_reference.Losses[l.Step], l.Bits));
        using var uninterrupted = new TempDirectory("torch-exit-100");
        SampleRun straight = await SampleProcess.RunToEndAsync("SpotTorch", uninterrupted.Path, SpotTorchTests.Arguments(uninterrupted.Path, 100, string.Empty, saveSteps: 10), SpotTorchTests.RunTimeout);
        Assert.True(straight.ExitCode == JobExitCodes.Done, straight.ToString());
        Assert.Equal(SpotTorchTests.ParametersLine(straight.StandardOutput), SpotTorchTests.ParametersLine(restart.StandardOutput));
    }

    [Theory]
    [InlineData("model")]
    [InlineData("input")]
    public async Task EitherChainAloneFailingItsFinalSave_Is5_NamingThatChain(string chain)
    {
        // Weights and data are restored together, so both chains are watched: one that commits every step does not
        // make up for the other. (KeepMax 20 keeps the healthy chain's step 40 retained, so a restart can resume there.)
        string[] faulty = SpotTorchTests.Arguments(
            _dir.Path, 60, string.Empty, saveSteps: 10,
            "--InputPipelineCheckpointing:Provider=FaultInjecting",
            "--InputPipelineCheckpointing:SaveInBackground=false",
            "--InputPipelineCheckpointing:KeepMax=20",
            "--FaultInjection:FailWritesAfterStep=40",
            $"--FaultInjection:FailWritesWithPrefix={chain}.");

        SampleRun run = await SampleProcess.RunToEndAsync(SampleProcess.TorchFaultHost, _dir.Path, faulty, SpotTorchTests.RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.FinalCheckpointNotCommitted, run.ToString());
        Assert.StartsWith($"Reached global step 60 of 60, but the checkpoint at step 60 did not commit ({chain}: Local store, key \"{chain}.ckpt-60.", run.LastErrorLine, StringComparison.Ordinal);
        Assert.EndsWith("A restart resumes from step 40 and repeats 20 steps.", run.LastErrorLine, StringComparison.Ordinal);
        Assert.DoesNotContain($"of chain {(chain == "model" ? "input" : "model")} at step", run.StandardError, StringComparison.Ordinal); // the other chain saved every time
        Assert.Equal(string.Empty, run.StandardOutput);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task ASigtermWhoseFinalSaveFails_ExitsWith5_NamingTheStepARestartResumesFrom()
    {
        string log = _dir.Combine("loss.log");
        string[] args = SpotTorchTests.Arguments(
            _dir.Path, 100_000, log, saveSteps: 10,
            "--InputPipelineCheckpointing:Provider=FaultInjecting",
            "--InputPipelineCheckpointing:SaveInBackground=false",
            "--FaultInjection:FailWritesAfterStep=20",
            "--Logging:LogLevel:InputPipeline.Checkpointing=Information");
        using SampleProcess process = SampleProcess.Start(SampleProcess.TorchFaultHost, _dir.Path, args);
        using (var deadline = new CancellationTokenSource(SpotTorchTests.RunTimeout))
        {
            while (SpotTorchTests.ReadLog(log).Count < 30)
            {
                Assert.False(process.HasExited, process.Output);
                await Task.Delay(20, deadline.Token);
            }
        }

        process.Terminate();
        int code = await process.WaitAsync(SpotTorchTests.RunTimeout);
        var run = new SampleRun(code, process.StandardOutput, process.StandardError, process.Output);

        long stoppedAt = SpotTorchTests.ReadLog(log).Max(l => l.Step);
        Assert.True(code == JobExitCodes.FinalCheckpointNotCommitted, run.ToString());
        Assert.StartsWith(
            string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {stoppedAt} of 100000 after a stop request (HostStopping), but the checkpoint at step {stoppedAt} did not commit ("),
            run.LastErrorLine,
            StringComparison.Ordinal);
        Assert.EndsWith(string.Create(CultureInfo.InvariantCulture, $"A restart resumes from step 20 and repeats {stoppedAt - 20} steps."), run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"info: PreemptionHook[3011] Training stopped at global step {stoppedAt} for a preemption (HostStopping)"), run.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.StandardOutput);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task Redirected_ItShowsPlainProgressLines_NoRoutineCommits_AndParamsIsStillTheLastLineOfStandardOutput()
    {
        string[] args = SpotTorchTests.Arguments(_dir.Path, 300, string.Empty, saveSteps: 10, "--Progress:Interval=00:00:00.3", "--Logging:LogLevel:InputPipeline.Checkpointing=Information");

        SampleRun run = await SampleProcess.RunToEndAsync("SpotTorch", _dir.Path, args, SpotTorchTests.RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.Done, run.ToString());
        string[] stdout = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(stdout.Length == 3, run.ToString());
        Assert.Equal("Reached global step 300 of 300.", stdout[0]);
        Assert.Matches(@"^Trained 300 steps in [0-9]+\.[0-9]{3} s\.$", stdout[1]);
        Assert.Equal(_reference.Parameters, SpotTorchTests.ParametersLine(run.StandardOutput));

        string[] progress = [.. run.StandardError.Split('\n').Where(l => l.StartsWith("progress: ", StringComparison.Ordinal))];
        Assert.True(progress.Length >= 2, run.ToString());
        Assert.All(progress, l => Assert.Matches(ProgressLine(), l));
        Assert.Contains(progress, l => l.Contains(" steps/s · checkpoint ", StringComparison.Ordinal));
        Assert.Contains("info: TorchCheckpointing[4000] No checkpoint in chains model and input", run.StandardError, StringComparison.Ordinal); // Information is on
        Assert.DoesNotContain("Committed checkpoint", run.StandardError, StringComparison.Ordinal); // routine commits are at Debug
        Assert.DoesNotContain("\u001b[", run.Output, StringComparison.Ordinal); // no terminal sequences when redirected
        run.AssertNoStackTrace();

        SampleRun quiet = await SampleProcess.RunToEndAsync("SpotTorch", _dir.Path, [.. args.Where(a => !a.StartsWith("--Training:Steps", StringComparison.Ordinal)), "--Training:Steps=310", "--Progress:Mode=Off"], SpotTorchTests.RunTimeout);
        Assert.True(quiet.ExitCode == JobExitCodes.Done, quiet.ToString());
        Assert.DoesNotContain("progress: ", quiet.StandardError, StringComparison.Ordinal);
        SpotTorchTests.ParametersLine(quiet.StandardOutput);
    }

    [Theory]
    [InlineData("--InputPipelineCheckpointing:SaveSteps=-3", "Invalid configuration: InputPipelineCheckpointing:SaveSteps: must be at least 1 (was -3).")]
    [InlineData("--Training:Threads=0", "Invalid configuration: Training:Threads: must be at least 1 (was 0).")]
    [InlineData("--Training:Steps=abc", "Invalid configuration: Failed to convert configuration value 'abc' at 'Training:Steps' to type 'System.Int64'.")]
    [InlineData("--Progress:Mode=Loud", "Invalid configuration: Failed to convert configuration value 'Loud' at 'Progress:Mode'")]
    [InlineData("--InputPipelineCheckpointing:Provider=Nope", "Invalid configuration: InputPipelineCheckpointing:Provider:")]
    public async Task InvalidConfiguration_IsOneLineOnStandardError_ExitCode2(string argument, string line)
    {
        SampleRun run = await SampleProcess.RunToEndAsync("SpotTorch", _dir.Path, SpotTorchTests.Arguments(_dir.Path, 10, string.Empty, extra: argument), SpotTorchTests.RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.InvalidConfiguration, run.ToString());
        Assert.StartsWith(line, Assert.Single(Lines(run.StandardError)), StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.StandardOutput);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task DataForAnotherSeed_IsOneLineSayingWhatToDo_ExitCode3()
    {
        SampleRun first = await SampleProcess.RunToEndAsync("SpotTorch", _dir.Path, SpotTorchTests.Arguments(_dir.Path, 1, string.Empty), SpotTorchTests.RunTimeout);
        Assert.True(first.ExitCode == JobExitCodes.Done, first.ToString());

        SampleRun run = await SampleProcess.RunToEndAsync("SpotTorch", _dir.Path, SpotTorchTests.Arguments(_dir.Path, 1, string.Empty, extra: "--Training:Seed=99"), SpotTorchTests.RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.UnusableData, run.ToString());
        Assert.Equal(
            $"Training:DataDir '{_dir.Combine("data")}' holds data for seed 1234, not Training:Seed 99. Use the same seed, or another directory.",
            Assert.Single(Lines(run.StandardError)));
        Assert.Equal(string.Empty, run.StandardOutput);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task AnUnexpectedException_StillPrintsItsStack_ExitCode1()
    {
        SampleRun run = await SampleProcess.RunToEndAsync(SampleProcess.TorchFaultHost, _dir.Path, SpotTorchTests.Arguments(_dir.Path, 50, string.Empty, extra: "--FaultInjection:ThrowAtStep=5"), SpotTorchTests.RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.Unexpected, run.ToString());
        Assert.Contains("Unexpected error (a bug; please report it): System.InvalidOperationException: An injected bug at step 5.", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("   at InputPipeline.Checkpointing.Samples.Faults.FaultInjectionHook.AfterRunAsync", run.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.StandardOutput);
    }

    [GeneratedRegex(@"^progress: step (\d+|\?)/300 · .+ · (checkpoint \d+, .+ago|checkpoint \d+, just now|no checkpoint yet) · \d+ failed saves?\r?$")]
    private static partial Regex ProgressLine();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
