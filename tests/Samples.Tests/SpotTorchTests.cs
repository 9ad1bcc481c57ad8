using System.Globalization;
using System.Text.RegularExpressions;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>The reference every SpotTorch test compares against, measured in the same test run: SpotTorch uninterrupted.</summary>
public sealed class SpotTorchReference : IAsyncLifetime, IDisposable
{
    public const long Steps = 300;
    private readonly TempDirectory _dir = new("torch-reference");

    public IReadOnlyDictionary<long, string> Losses { get; private set; } = new Dictionary<long, string>();

    public string Parameters { get; private set; } = "";

    public async Task InitializeAsync()
    {
        string log = _dir.Combine("loss.log");
        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, SpotTorchTests.Arguments(_dir.Path, Steps, log), SpotTorchTests.RunTimeout);
        Assert.True(code == 0, $"The reference run exited with {code}:\n{output}");
        List<(long Step, string Bits)> lines = SpotTorchTests.ReadLog(log);
        Assert.Equal(Enumerable.Range(1, (int)Steps).Select(i => (long)i), lines.Select(l => l.Step));
        Losses = lines.ToDictionary(l => l.Step, l => l.Bits);
        Parameters = SpotTorchTests.ParametersLine(output);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// SpotTorch as a user runs it: killed with SIGKILL at random instants (at start-up, during steps, during saves) and
/// stopped with SIGTERM, then restarted, it logs the same loss bits at every step and ends with the same parameter hash
/// as the uninterrupted run, misses no step, and replays none after SIGTERM; a damaged model checkpoint moves the resume
/// point back to the previous step where both chains verify.
/// </summary>
[Collection(SpotTorchTestGroup.Name)]
public sealed partial class SpotTorchTests : IClassFixture<SpotTorchReference>, IDisposable
{
    internal static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly SpotTorchReference _reference;
    private readonly TempDirectory _dir = new("torch");

    public SpotTorchTests(SpotTorchReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    internal static string[] Arguments(string root, long steps, string lossLog, int saveSteps = 7, params string[] extra) =>
    [
        $"--InputPipelineCheckpointing:Local:Path={Path.Combine(root, "checkpoints")}",
        $"--InputPipelineCheckpointing:SaveSteps={saveSteps}",
        $"--Training:Steps={steps}",
        $"--Training:DataDir={Path.Combine(root, "data")}",
        $"--Training:LossLog={lossLog}",
        "--Training:Seed=1234",
        "--Training:Threads=1",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:InputPipeline.Checkpointing=Warning",
        .. extra,
    ];

    internal static List<(long Step, string Bits)> ReadLog(string path)
    {
        var lines = new List<(long, string)>();
        if (!File.Exists(path))
        {
            return lines;
        }

        // Each line is written and flushed with one write, so even a killed run leaves only whole lines.
        foreach (string line in File.ReadAllLines(path))
        {
            Match match = LossLine().Match(line);
            Assert.True(match.Success, $"A loss log line is not '<step> <8 lowercase hex digits>': \"{line}\"");
            lines.Add((long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value));
        }

        return lines;
    }

    /// <summary>The hash from the last line of a run that exited 0: <c>params &lt;64 lowercase hex digits&gt;</c>.</summary>
    internal static string ParametersLine(string output)
    {
        string last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        Match match = ParamsLine().Match(last);
        Assert.True(match.Success, $"The last line is not 'params <sha256>': \"{last}\"");
        return match.Groups[1].Value;
    }

    /// <summary>
    /// Runs SpotTorch until <paramref name="kill"/> says so, then SIGKILLs it. The predicate sees the number of loss log
    /// lines the run has added; the test fails when the run exits on its own first.
    /// </summary>
    internal static async Task KillWhenAsync(string root, string[] args, string log, Func<int, bool> kill, int delayMs, IReadOnlyDictionary<string, string>? environment = null, Func<string>? context = null)
    {
        int before = ReadLog(log).Count;
        using SampleProcess process = SampleProcess.Start("SpotTorch", root, args, environment);
        using var deadline = new CancellationTokenSource(RunTimeout);
        while (!kill(ReadLog(log).Count - before))
        {
            Assert.False(process.HasExited, $"The run exited before it was killed:\n{process.Output}\n{context?.Invoke()}");
            await Task.Delay(2, deadline.Token);
        }

        await Task.Delay(delayMs, deadline.Token);
        Assert.False(process.HasExited, $"The run exited before it was killed:\n{process.Output}\n{context?.Invoke()}");
        process.Kill();
        await process.WaitAsync(RunTimeout);
    }

    /// <summary>Runs SpotTorch until it has added <paramref name="newSteps"/> steps, sends SIGTERM, and returns the step it stopped at.</summary>
    internal static async Task<long> TerminateAfterAsync(string root, string[] args, string log, int newSteps, IReadOnlyDictionary<string, string>? environment = null)
    {
        int before = ReadLog(log).Count;
        using SampleProcess process = SampleProcess.Start("SpotTorch", root, args, environment);
        using (var deadline = new CancellationTokenSource(RunTimeout))
        {
            while (ReadLog(log).Count - before < newSteps)
            {
                Assert.False(process.HasExited, process.Output);
                await Task.Delay(5, deadline.Token);
            }
        }

        process.Terminate();
        int code = await process.WaitAsync(RunTimeout);
        Assert.True(code == 0, $"SIGTERM: exit {code}\n{process.Output}");
        Match stopped = StoppedLine().Match(process.Output);
        Assert.True(stopped.Success, $"SIGTERM: no 'Stopped at global step' line:\n{process.Output}");
        ParametersLine(process.Output);
        long step = long.Parse(stopped.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Equal(step, ReadLog(log)[^1].Step);
        return step;
    }

    /// <summary>Every line of every run logs the reference's bits for its step, and every step 1..Steps is there.</summary>
    internal static void AssertSameAsReference(SpotTorchReference reference, List<(long Step, string Bits)> lines, string what)
    {
        Assert.Equal(Enumerable.Range(1, (int)SpotTorchReference.Steps).Select(i => (long)i), lines.Select(l => l.Step).Distinct().Order());
        foreach ((long step, string bits) in lines)
        {
            Assert.True(reference.Losses[step] == bits, $"{what}: step {step} logged the loss bits {bits} after a restart; the uninterrupted run logged {reference.Losses[step]}.");
        }
    }

    [Fact]
    public async Task KilledAtFiveRandomInstants_AndStoppedBySigterm_TheLossesAndFinalWeightsAreBitForBitTheUninterruptedOnes()
    {
        int seed = Environment.TickCount;
        var random = new Random(seed);
        string log = _dir.Combine("loss.log");
        const int SaveSteps = 7;
        string[] args = Arguments(_dir.Path, SpotTorchReference.Steps, log, SaveSteps);

        // Kill 1 at a random instant of start-up (data generation, LibTorch loading, the resume); kills 2-5 a few
        // milliseconds after a random step (inside a step), or right after a step that triggers a save (inside the
        // background save of both chains). Each run adds at most 30 steps, so all land before the 300 steps are done.
        await KillWhenAsync(_dir.Path, args, log, _ => true, random.Next(100, 1200));
        for (int kill = 2; kill <= 5; kill++)
        {
            if (kill % 2 == 0)
            {
                // A run resumes at a multiple of SaveSteps (where the last save committed), so its 7th, 14th or 21st
                // new step triggers a save; the kill follows the step's log line by 0-2 ms.
                int saveAfter = SaveSteps * random.Next(1, 4);
                await KillWhenAsync(_dir.Path, args, log, added => added >= saveAfter, random.Next(0, 3), context: () => $"seed {seed}");
            }
            else
            {
                int target = random.Next(1, 25);
                await KillWhenAsync(_dir.Path, args, log, added => added >= target, random.Next(0, 16), context: () => $"seed {seed}");
            }
        }

        int beforeTerm = ReadLog(log).Count;
        long stoppedAt = await TerminateAfterAsync(_dir.Path, args, log, random.Next(5, 25));
        int beforeFinal = ReadLog(log).Count;
        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, args, RunTimeout);

        Assert.True(code == 0, $"seed {seed}: {output}");
        List<(long Step, string Bits)> lines = ReadLog(log);
        AssertSameAsReference(_reference, lines, $"seed {seed}");
        Assert.True(beforeTerm > 0 && lines.Count > lines.Select(l => l.Step).Distinct().Count(), $"seed {seed}: no step ran twice, so no kill landed between two checkpoints");
        Assert.Equal(stoppedAt + 1, lines[beforeFinal].Step); // SIGTERM saved at the step it stopped at: nothing replayed
        Assert.Equal(_reference.Parameters, ParametersLine(output));
        Assert.Contains($"Reached global step {SpotTorchReference.Steps} of {SpotTorchReference.Steps}.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADamagedModelPart_ResumesAtThePreviousStepWhereBothChainsVerify()
    {
        string log = _dir.Combine("loss.log");
        (int first, string firstOutput) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, 60, log, saveSteps: 10), RunTimeout);
        Assert.True(first == 0, firstOutput);
        string part = Directory.EnumerateFiles(_dir.Combine("checkpoints"), "model.ckpt-60.*.part").Single();
        byte[] bytes = File.ReadAllBytes(part);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(part, bytes);

        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, SpotTorchReference.Steps, log, saveSteps: 10), RunTimeout);

        Assert.True(code == 0, output);
        List<(long Step, string Bits)> lines = ReadLog(log);
        Assert.Equal(51, lines[60].Step); // steps 51-60 ran again from the checkpoints at 50
        AssertSameAsReference(_reference, lines, "after the damaged model part");
        Assert.Equal(_reference.Parameters, ParametersLine(output));
    }

    [Fact]
    public async Task AtTheTargetStep_ARerunExitsAtOnce_WithTheSameParameters()
    {
        string log = _dir.Combine("loss.log");
        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, 20, log), RunTimeout);
        Assert.True(code == 0, output);

        (int again, string againOutput) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, 20, log), RunTimeout);

        Assert.True(again == 0, againOutput);
        Assert.Contains("Reached global step 20 of 20.", againOutput, StringComparison.Ordinal);
        Assert.Equal(ParametersLine(output), ParametersLine(againOutput));
        Assert.Equal(20, ReadLog(log).Count);
    }

    [Theory]
    [InlineData("--Training:Threads=0", 2, "Training:Threads")]
    [InlineData("--Training:Steps=-1", 2, "Training:Steps")]
    [InlineData("--InputPipelineCheckpointing:SaveSecs=5", 2, "SaveSteps or SaveSecs")]
    [InlineData("--InputPipelineCheckpointing:Provider=Nope", 2, "InputPipelineCheckpointing:Provider")]
    public async Task BadConfiguration_ExitsWithCode2_NamingTheKey(string argument, int expectedCode, string named)
    {
        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, 10, _dir.Combine("log"), extra: argument), RunTimeout);

        Assert.True(code == expectedCode, output);
        Assert.Contains(named, output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.Combine("checkpoints")));
    }

    [Fact]
    public async Task ADataDirectoryForAnotherSeed_ExitsWithCode3()
    {
        (int first, string firstOutput) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, 1, _dir.Combine("log")), RunTimeout);
        Assert.True(first == 0, firstOutput);

        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, Arguments(_dir.Path, 1, _dir.Combine("log"), extra: "--Training:Seed=99"), RunTimeout);

        Assert.Equal(3, code);
        Assert.Contains("seed 1234", output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^(\d+) ([0-9a-f]{8})$")]
    private static partial Regex LossLine();

    [GeneratedRegex(@"^params ([0-9a-f]{64})$")]
    private static partial Regex ParamsLine();

    [GeneratedRegex(@"Stopped at global step (\d+) of")]
    private static partial Regex StoppedLine();
}
