using System.Globalization;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>The reference run every kill test compares against: SpotTraining uninterrupted, one BatchLog line per step.</summary>
public sealed class SpotTrainingReference : IAsyncLifetime, IDisposable
{
    public const long Steps = 120;
    private readonly TempDirectory _dir = new("spot-reference");

    public IReadOnlyDictionary<long, string> Hashes { get; private set; } = new Dictionary<long, string>();

    public async Task InitializeAsync()
    {
        string log = _dir.Combine("batches.log");
        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, Steps, stepDelayMs: 0, log), TimeSpan.FromMinutes(3));
        Assert.True(code == 0, $"The reference run exited with {code}:\n{output}");
        List<(long Step, string Hash)> lines = SpotTrainingTests.ReadLog(log);
        Assert.Equal(Enumerable.Range(1, (int)Steps).Select(i => (long)i), lines.Select(l => l.Step));
        Hashes = lines.ToDictionary(l => l.Step, l => l.Hash);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// SpotTraining as a user runs it: killed with SIGKILL at random instants (during data generation and saves too) and
/// restarted, every step it runs yields the same batch as the uninterrupted run; on SIGTERM it saves and exits 0, and
/// the restart runs no step twice; damaged checkpoint files and bad configuration are handled as documented.
/// </summary>
public sealed class SpotTrainingTests : IClassFixture<SpotTrainingReference>, IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly SpotTrainingReference _reference;
    private readonly TempDirectory _dir = new("spot");

    public SpotTrainingTests(SpotTrainingReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    internal static string[] Arguments(string root, long steps, int stepDelayMs, string batchLog, int saveSteps = 10, params string[] extra) =>
    [
        $"--InputPipelineCheckpointing:Local:Path={Path.Combine(root, "checkpoints")}",
        $"--InputPipelineCheckpointing:SaveSteps={saveSteps}",
        $"--Training:Steps={steps}",
        $"--Training:DataDir={Path.Combine(root, "data")}",
        $"--Training:StepDelayMs={stepDelayMs}",
        $"--Training:BatchLog={batchLog}",
        "--Training:Seed=1234",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:InputPipeline.Checkpointing=Warning",
        .. extra,
    ];

    internal static List<(long Step, string Hash)> ReadLog(string path)
    {
        var lines = new List<(long, string)>();
        if (!File.Exists(path))
        {
            return lines;
        }

        // Each line is written and flushed with one write, so even a killed run leaves only whole lines.
        foreach (string line in File.ReadAllLines(path))
        {
            string[] parts = line.Split(' ');
            Assert.True(
                parts.Length == 2 && parts[1].Length == 64 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out _),
                $"A batch log line is not '<step> <sha256>': \"{line}\"");
            lines.Add((long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1]));
        }

        return lines;
    }

    [Fact]
    public async Task UninterruptedRun_LogsEveryStepOnce_AndARerunAtTheTargetStepExitsAtOnce()
    {
        string log = _dir.Combine("batches.log");
        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, 40, 0, log), RunTimeout);
        Assert.True(code == 0, output);

        (int again, string againOutput) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, 40, 0, log), RunTimeout);

        Assert.True(again == 0, againOutput);
        Assert.Contains("Reached global step 40 of 40", againOutput, StringComparison.Ordinal);
        List<(long Step, string Hash)> lines = ReadLog(log);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal(_reference.Hashes[l.Step], l.Hash));
    }

    [Fact]
    public async Task KilledAtRandomInstants_ThenRestarted_EveryStepYieldsTheSameBatchAsTheUninterruptedRun()
    {
        int seed = Environment.TickCount;
        var random = new Random(seed);
        string log = _dir.Combine("batches.log");
        string[] args = Arguments(_dir.Path, SpotTrainingReference.Steps, stepDelayMs: 15, log, saveSteps: 7);
        const int Kills = 5;
        for (int kill = 0; kill < Kills; kill++)
        {
            // Each run is killed after at most 20 new steps, so all five kills land before the 120 steps are done:
            // a third at a random instant (startup, data generation, restore), the rest a few milliseconds after a
            // random number of new steps (in a step, in a save, between the two).
            int before = ReadLog(log).Count;
            using SampleProcess process = SampleProcess.Start("SpotTraining", _dir.Path, args);
            if (random.Next(3) == 0)
            {
                await Task.Delay(random.Next(30, 700));
            }
            else
            {
                int target = before + random.Next(1, 21);
                using var deadline = new CancellationTokenSource(RunTimeout);
                while (ReadLog(log).Count < target)
                {
                    Assert.False(process.HasExited, $"seed {seed}: the run exited before it was killed:\n{process.Output}");
                    await Task.Delay(5, deadline.Token);
                }

                await Task.Delay(random.Next(0, 16));
            }

            Assert.False(process.HasExited, $"seed {seed}: the run exited before it was killed:\n{process.Output}");
            process.Kill();
            await process.WaitAsync(RunTimeout);
        }

        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, args, RunTimeout);

        Assert.True(code == 0, $"seed {seed}: {output}");
        List<(long Step, string Hash)> lines = ReadLog(log);
        Assert.Equal(Enumerable.Range(1, (int)SpotTrainingReference.Steps).Select(i => (long)i), lines.Select(l => l.Step).Distinct().Order());
        foreach ((long step, string hash) in lines)
        {
            Assert.True(_reference.Hashes[step] == hash, $"seed {seed}: step {step} yielded another batch after a restart");
        }
    }

    [Fact]
    public async Task KilledDuringDataGeneration_TheRestartRegeneratesOrVerifiesAndMatches()
    {
        string log = _dir.Combine("batches.log");
        string[] args = Arguments(_dir.Path, 30, 0, log);
        for (int delay = 40; delay <= 400; delay += 60)
        {
            using SampleProcess process = SampleProcess.Start("SpotTraining", _dir.Path, args);
            await Task.Delay(delay);
            process.Kill();
            await process.WaitAsync(RunTimeout);
        }

        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, args, RunTimeout);

        Assert.True(code == 0, output);
        Assert.Empty(Directory.EnumerateDirectories(_dir.Path, "data.tmp-*"));
        Assert.All(ReadLog(log), l => Assert.Equal(_reference.Hashes[l.Step], l.Hash));
        Assert.Equal(30, ReadLog(log).Max(l => l.Step));
    }

    [Fact]
    public async Task Sigterm_FinishesTheStepSavesAndExitsZero_AndTheRestartRunsNoStepTwice()
    {
        string log = _dir.Combine("batches.log");
        string[] args = Arguments(_dir.Path, SpotTrainingReference.Steps, stepDelayMs: 15, log, saveSteps: 50);
        using (SampleProcess process = SampleProcess.Start("SpotTraining", _dir.Path, args))
        {
            using var deadline = new CancellationTokenSource(RunTimeout);
            while (ReadLog(log).Count < 12)
            {
                Assert.False(process.HasExited, process.Output);
                await Task.Delay(20, deadline.Token);
            }

            process.Terminate();
            int code = await process.WaitAsync(RunTimeout);
            Assert.True(code == 0, process.Output);
            Assert.Contains("after a stop request", process.Output, StringComparison.Ordinal);
        }

        long stoppedAt = ReadLog(log).Max(l => l.Step);
        Assert.True(stoppedAt < SpotTrainingReference.Steps);
        Assert.NotEqual(0, stoppedAt % 50); // not a scheduled save: the stop itself saved

        (int restart, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, args, RunTimeout);

        Assert.True(restart == 0, output);
        List<(long Step, string Hash)> lines = ReadLog(log);
        Assert.Equal(Enumerable.Range(1, (int)SpotTrainingReference.Steps).Select(i => (long)i), lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal(_reference.Hashes[l.Step], l.Hash));
    }

    [Theory]
    [InlineData("latest-input-part")]
    [InlineData("latest-model-part")]
    [InlineData("latest-input-manifest")]
    [InlineData("state-files")]
    [InlineData("truncated-part")]
    public async Task DamagedCheckpointFiles_TheRestartStillContinuesWithTheSameBatches(string damage)
    {
        string log = _dir.Combine("batches.log");
        (int first, string firstOutput) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, 60, 0, log), RunTimeout);
        Assert.True(first == 0, firstOutput);
        string checkpoints = _dir.Combine("checkpoints");
        string Latest(string chain, string suffix) => Directory.EnumerateFiles(checkpoints, $"{chain}.ckpt-60.*{suffix}").Single();
        switch (damage)
        {
            case "latest-input-part":
                FlipByte(Latest("input", ".part"));
                break;
            case "latest-model-part":
                FlipByte(Latest("model", ".part"));
                break;
            case "latest-input-manifest":
                File.WriteAllText(Latest("input", ".manifest"), "{ not json");
                break;
            case "state-files":
                File.WriteAllText(Path.Combine(checkpoints, "checkpoint_input"), "garbage");
                File.Delete(Path.Combine(checkpoints, "checkpoint"));
                break;
            default:
                string part = Latest("input", ".part");
                File.WriteAllBytes(part, File.ReadAllBytes(part)[..^5]);
                break;
        }

        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, SpotTrainingReference.Steps, 0, log), RunTimeout);

        Assert.True(code == 0, output);
        List<(long Step, string Hash)> lines = ReadLog(log);
        Assert.Equal(SpotTrainingReference.Steps, lines.Max(l => l.Step));
        Assert.All(lines, l => Assert.Equal(_reference.Hashes[l.Step], l.Hash));
    }

    [Theory]
    [InlineData("--Training:Steps=-1", 2, "Training:Steps")]
    [InlineData("--InputPipelineCheckpointing:SaveSecs=5", 2, "SaveSteps or SaveSecs")]
    [InlineData("--InputPipelineCheckpointing:Provider=Nope", 2, "InputPipelineCheckpointing:Provider")]
    [InlineData("--InputPipelineCheckpointing:KeepMax=0", 2, "KeepMax")]
    [InlineData("--InputPipelineCheckpointing:Provider=S3", 2, "InputPipelineCheckpointing:S3:Bucket")]
    public async Task BadConfiguration_ExitsWithCode2_NamingTheKey(string argument, int expectedCode, string named)
    {
        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, 10, 0, _dir.Combine("log"), extra: argument), RunTimeout);

        Assert.True(code == expectedCode, output);
        Assert.Contains(named, output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.Combine("checkpoints")));
    }

    [Fact]
    public async Task ADataDirectoryForAnotherSeed_ExitsWithCode3()
    {
        (int first, string firstOutput) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, 1, 0, _dir.Combine("log")), RunTimeout);
        Assert.True(first == 0, firstOutput);

        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, Arguments(_dir.Path, 1, 0, _dir.Combine("log"), extra: "--Training:Seed=99"), RunTimeout);

        Assert.Equal(3, code);
        Assert.Contains("seed 1234", output, StringComparison.Ordinal);
    }

    private static void FlipByte(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
    }
}

/// <summary>The EstimatorLoop sample, the reference's own example, runs to its stop condition and resumes.</summary>
public sealed class EstimatorLoopTests : IDisposable
{
    private readonly TempDirectory _dir = new("estimator-loop");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task RunsRoundsUntilTheStopCondition_AndASecondRunResumesTheGlobalStep()
    {
        string[] args = [$"--InputPipelineCheckpointing:Local:Path={_dir.Combine("ckpt")}", "--Training:MaxRounds=2", "--Training:TargetLoss=0"];
        (int code, string output) = await SampleProcess.RunAsync("EstimatorLoop", _dir.Path, args, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, output);
        Assert.Contains("round 2: global step 200", output, StringComparison.Ordinal);

        (int again, string againOutput) = await SampleProcess.RunAsync("EstimatorLoop", _dir.Path, args, TimeSpan.FromMinutes(2));

        Assert.True(again == 0, againOutput);
        Assert.Contains("round 1: global step 300", againOutput, StringComparison.Ordinal);
    }
}
