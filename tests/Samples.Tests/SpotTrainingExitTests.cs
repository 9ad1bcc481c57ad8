using System.Globalization;
using System.Text.RegularExpressions;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Samples;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// Honest exits: SpotTraining exits 0 only when the work is done and its last checkpoint is committed. A run whose
/// final checkpoint does not commit (a store that refuses every write after step k, a full disk, a SIGTERM whose
/// final save fails) exits 5 and says which step a restart resumes from; each test then checks that claim against
/// the store, or by restarting.
/// </summary>
public sealed partial class SpotTrainingExitTests : IClassFixture<SpotTrainingReference>, IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly SpotTrainingReference _reference;
    private readonly TempDirectory _dir = new("spot-exit");

    public SpotTrainingExitTests(SpotTrainingReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AStoreThatFailsEveryWriteAfterStepK_ExitsWith5_AndARestartResumesFromK()
    {
        string log = _dir.Combine("batches.log");
        string[] faulty = SpotTrainingTests.Arguments(
            _dir.Path, 100, stepDelayMs: 0, log, saveSteps: 10,
            "--InputPipelineCheckpointing:Provider=FaultInjecting",
            "--InputPipelineCheckpointing:SaveInBackground=false",
            "--FaultInjection:FailWritesAfterStep=40");

        SampleRun run = await SampleProcess.RunToEndAsync(SampleProcess.FaultHost, _dir.Path, faulty, RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.FinalCheckpointNotCommitted, run.ToString());
        Assert.StartsWith("Reached global step 100 of 100, but the checkpoint at step 100 did not commit (", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains("Injected fault", run.LastErrorLine, StringComparison.Ordinal);
        Assert.EndsWith("A restart resumes from step 40 and repeats 60 steps.", run.LastErrorLine, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.StandardOutput);
        Assert.Contains("fail: CheckpointInputPipelineHook[1103] Saving the input checkpoint of chain input at step 50 failed", run.StandardError, StringComparison.Ordinal);
        run.AssertNoStackTrace();

        // The claim holds: the restart (on the same directory, now a healthy store) runs step 41 next, with the same batches.
        SampleRun restart = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 100, 0, log, saveSteps: 10), RunTimeout);

        Assert.True(restart.ExitCode == JobExitCodes.Done, restart.ToString());
        Assert.Contains("Reached global step 100 of 100; the checkpoint at step 100 is committed.", restart.StandardOutput, StringComparison.Ordinal);
        List<(long Step, string Hash)> lines = SpotTrainingTests.ReadLog(log);
        Assert.Equal(Enumerable.Range(1, 100).Concat(Enumerable.Range(41, 60)).Select(i => (long)i), lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal(_reference.Hashes[l.Step], l.Hash));
    }

    [Fact]
    public async Task AFullDisk_ExitsWith5_AndTheStepItNamesIsWhatTheStoreHolds()
    {
        // A real ENOSPC: the checkpoints go to a 240 KiB tmpfs, mounted in a private mount namespace of the child
        // (unshare --mount --map-root-user), so the mount needs no privilege beyond user namespaces and vanishes with it.
        // An input checkpoint is about 40 KiB (its size varies with what the parallel map has in flight) and each file
        // takes whole 4 KiB pages, so KeepMax 5 of both chains needs about 280 KiB: the disk fills after a few saves and
        // stays full, since only a commit frees space, and the final save cannot commit.
        string checkpoints = _dir.Combine("checkpoints");
        string copy = _dir.Combine("checkpoints-copy");
        Directory.CreateDirectory(checkpoints);
        Directory.CreateDirectory(copy);
        SampleRun generate = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 1, 0, string.Empty, extra: $"--InputPipelineCheckpointing:Local:Path={_dir.Combine("scratch")}"), RunTimeout);
        Assert.True(generate.ExitCode == 0, generate.ToString());
        string[] args = SpotTrainingTests.Arguments(_dir.Path, 400, stepDelayMs: 0, string.Empty, saveSteps: 20);
        string script =
            "mount -t tmpfs -o size=240k tmpfs \"$1\" || { echo 'cannot mount a tmpfs (needs user namespaces or root)' >&2; exit 90; }; " +
            "shift 2; dotnet \"$@\"; code=$?; cp -a \"$0/.\" \"$copy\"; exit $code";

        using SampleProcess process = SampleProcess.StartCommand(
            ["unshare", "--mount", "--map-root-user", "sh", "-c", script.Replace("$copy", copy, StringComparison.Ordinal), checkpoints, checkpoints, "-", SampleProcess.SampleDll("SpotTraining"), .. args],
            _dir.Path);
        int code = await process.WaitAsync(RunTimeout);
        var run = new SampleRun(code, process.StandardOutput, process.StandardError, process.Output);

        Assert.True(code != 90, "This test makes a full disk with a tmpfs in a private mount namespace; here that failed: " + run);
        Assert.True(code == JobExitCodes.FinalCheckpointNotCommitted, run.ToString());
        Assert.Contains("No space left on device", run.StandardError, StringComparison.Ordinal);
        Assert.StartsWith("Reached global step 400 of 400, but the checkpoint at step 400 did not commit (", run.LastErrorLine, StringComparison.Ordinal);
        run.AssertNoStackTrace();

        // Retention keeps the newest step both chains committed (AlignedRetention), however many input saves failed, and
        // what the line claims about a restart is what the store holds: a restart on a disk with room resumes there.
        long? common = await CommonStepAsync(copy, "model", "input");
        Assert.True(common is not null, "no step is committed in both chains: " + run);
        Assert.EndsWith(string.Create(CultureInfo.InvariantCulture, $"A restart resumes from step {common} and repeats {400 - common} steps."), run.LastErrorLine, StringComparison.Ordinal);
        SampleRun restart = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, 400, 0, string.Empty, saveSteps: 20, $"--InputPipelineCheckpointing:Local:Path={copy}", "--Logging:LogLevel:InputPipeline.Checkpointing=Information"), RunTimeout);
        Assert.True(restart.ExitCode == JobExitCodes.Done, restart.ToString());
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"Restored the model at step {common} (aligned with an input checkpoint: True)"), restart.StandardError, StringComparison.Ordinal);
        Assert.Equal("Reached global step 400 of 400; the checkpoint at step 400 is committed.", restart.StandardOutput.Trim());
    }

    [Fact]
    public async Task ASigtermWhoseFinalSaveFails_ExitsWith5_NamingTheStepARestartResumesFrom()
    {
        string log = _dir.Combine("batches.log");
        string[] args = SpotTrainingTests.Arguments(
            _dir.Path, 100_000, stepDelayMs: 15, log, saveSteps: 10,
            "--InputPipelineCheckpointing:Provider=FaultInjecting",
            "--InputPipelineCheckpointing:SaveInBackground=false",
            "--FaultInjection:FailWritesAfterStep=20",
            "--Logging:LogLevel:InputPipeline.Checkpointing=Information");
        using SampleProcess process = SampleProcess.Start(SampleProcess.FaultHost, _dir.Path, args);
        using (var deadline = new CancellationTokenSource(RunTimeout))
        {
            while (SpotTrainingTests.ReadLog(log).Count < 30)
            {
                Assert.False(process.HasExited, process.Output);
                await Task.Delay(20, deadline.Token);
            }
        }

        process.Terminate();
        int code = await process.WaitAsync(RunTimeout);
        var run = new SampleRun(code, process.StandardOutput, process.StandardError, process.Output);

        long stoppedAt = SpotTrainingTests.ReadLog(log).Max(l => l.Step);
        Assert.True(code == JobExitCodes.FinalCheckpointNotCommitted, run.ToString());
        Assert.StartsWith(
            string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {stoppedAt} of 100000 after a stop request (HostStopping), but the checkpoint at step {stoppedAt} did not commit ("),
            run.LastErrorLine,
            StringComparison.Ordinal);
        Assert.EndsWith(string.Create(CultureInfo.InvariantCulture, $"A restart resumes from step 20 and repeats {stoppedAt - 20} steps."), run.LastErrorLine, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"info: PreemptionHook[3011] Training stopped at global step {stoppedAt} for a preemption (HostStopping); the checkpointing hooks have made their final saves."), run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("committed.", run.StandardError.Replace(run.LastErrorLine, string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        run.AssertNoStackTrace();
    }

    [Fact]
    public async Task ARunWithoutFaults_ShowsPlainProgressLines_AndNoRoutineCommits()
    {
        string[] args = SpotTrainingTests.Arguments(_dir.Path, 150, stepDelayMs: 10, string.Empty, saveSteps: 10, "--Progress:Interval=00:00:00.3", "--Logging:LogLevel:InputPipeline.Checkpointing=Information");

        SampleRun run = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, args, RunTimeout);

        Assert.True(run.ExitCode == JobExitCodes.Done, run.ToString());
        Assert.Equal("Reached global step 150 of 150; the checkpoint at step 150 is committed.", run.StandardOutput.Trim());
        string[] progress = [.. run.StandardError.Split('\n').Where(l => l.StartsWith("progress: ", StringComparison.Ordinal))];
        Assert.True(progress.Length >= 2, run.ToString());
        Assert.All(progress, l => Assert.Matches(ProgressLine(), l));
        Assert.Contains(progress, l => l.Contains(" steps/s · checkpoint ", StringComparison.Ordinal));
        Assert.DoesNotContain("Committed checkpoint", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", run.StandardError, StringComparison.Ordinal); // no terminal sequences when redirected

        SampleRun quiet = await SampleProcess.RunToEndAsync("SpotTraining", _dir.Path, [.. args.Where(a => !a.StartsWith("--Training:Steps", StringComparison.Ordinal)), "--Training:Steps=160", "--Progress:Mode=Off"], RunTimeout);
        Assert.True(quiet.ExitCode == JobExitCodes.Done, quiet.ToString());
        Assert.DoesNotContain("progress: ", quiet.StandardError, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^progress: step (\d+|\?)/150 · .+ · (checkpoint \d+, .+ago|checkpoint \d+, just now|no checkpoint yet) · \d+ failed saves?\r?$")]
    private static partial Regex ProgressLine();

    private static async Task<long?> CommonStepAsync(string path, params string[] chains)
    {
        var store = new LocalInputStateStore(path);
        HashSet<long>? common = null;
        foreach (string chain in chains)
        {
            using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = chain, StateFileKey = chain == "model" ? "checkpoint" : null });
            IEnumerable<long> steps = (await manager.ListCheckpointsAsync()).Select(c => c.Step);
            common = common is null ? [.. steps] : [.. common.Intersect(steps)];
        }

        return common is { Count: > 0 } ? common.Max() : null;
    }
}
