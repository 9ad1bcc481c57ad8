using System.Security.Cryptography;
using InputPipeline.Checkpointing.TestSupport;
using Xunit.Abstractions;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// Two copies of SpotTraining on one chain, as a spot fleet makes them: a replacement starts while the old job still
/// runs (a zombie of a VM believed gone). The replacement claims both chains and finishes; the old job stops at its
/// next save with exit 4, and the chain's latest step never goes back to the old job's.
/// </summary>
public sealed class SpotTrainingTakeoverTests : IClassFixture<SpotTrainingReference>, IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly SpotTrainingReference _reference;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _dir = new("spot-takeover");

    public SpotTrainingTakeoverTests(SpotTrainingReference reference, ITestOutputHelper output)
    {
        _reference = reference;
        _output = output;
    }

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("Local")]
    [InlineData("S3")]
    public async Task AReplacementStartedWhileTheOldJobRuns_Finishes_AndTheOldJobStopsWithExit4(string provider)
    {
        int port = FreePort.Get();
        var environment = new Dictionary<string, string>();
        string[] store = [];
        await using ExternalProcess? moto = provider == "S3" ? await MotoServer.StartAsync(port, _dir.Path) : null;
        if (moto is not null)
        {
            environment["AWS_ACCESS_KEY_ID"] = "test";
            environment["AWS_SECRET_ACCESS_KEY"] = "test";
            store =
            [
                "--InputPipelineCheckpointing:Provider=S3",
                "--InputPipelineCheckpointing:S3:Bucket=takeover-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)),
                $"--InputPipelineCheckpointing:S3:ServiceUrl=http://127.0.0.1:{port}",
                "--InputPipelineCheckpointing:S3:ForcePathStyle=true",
                "--InputPipelineCheckpointing:S3:Region=us-east-1",
                "--InputPipelineCheckpointing:S3:CreateBucketIfMissing=true",
            ];
        }

        // The old job is slow (200 ms a step: 24 s for the 120 steps), so it is still running when the replacement,
        // started once the old job has logged 8 steps, claims the chains.
        string oldLog = _dir.Combine("old.log");
        string newLog = _dir.Combine("new.log");
        long steps = SpotTrainingReference.Steps;
        using SampleProcess old = SampleProcess.Start("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, steps, stepDelayMs: 200, oldLog, saveSteps: 5, extra: store), environment);
        using (var deadline = new CancellationTokenSource(RunTimeout))
        {
            while (SpotTrainingTests.ReadLog(oldLog).Count < 8)
            {
                Assert.False(old.HasExited, $"{provider}: the old job exited before the replacement started:\n{old.Output}");
                await Task.Delay(20, deadline.Token);
            }
        }

        (int replacementCode, string replacementOutput) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, steps, stepDelayMs: 0, newLog, saveSteps: 5, extra: store), RunTimeout, environment);
        int oldCode = await old.WaitAsync(RunTimeout);

        Assert.True(replacementCode == 0, $"{provider}: the replacement exited with {replacementCode}:\n{replacementOutput}\n--- old job:\n{old.Output}");
        Assert.Contains($"Reached global step {steps} of {steps}", replacementOutput, StringComparison.Ordinal);
        Assert.True(oldCode == 4, $"{provider}: the old job exited with {oldCode}, not 4 (lost ownership):\n{old.Output}\n--- replacement:\n{replacementOutput}");
        Assert.Contains("lost ownership", old.Output, StringComparison.Ordinal);

        List<(long Step, string Hash)> oldLines = SpotTrainingTests.ReadLog(oldLog);
        List<(long Step, string Hash)> newLines = SpotTrainingTests.ReadLog(newLog);
        Assert.True(oldLines.Max(l => l.Step) < steps, $"{provider}: the old job reached the last step");
        long resumedAfter = newLines.Min(l => l.Step) - 1;
        Assert.Equal(0, resumedAfter % 5);
        Assert.True(resumedAfter <= oldLines.Max(l => l.Step), $"{provider}: the replacement resumed after step {resumedAfter}, beyond what the old job ran");
        Assert.Equal(Enumerable.Range((int)resumedAfter + 1, (int)(steps - resumedAfter)).Select(i => (long)i), newLines.Select(l => l.Step));
        Assert.All(oldLines.Concat(newLines), l => Assert.True(_reference.Hashes[l.Step] == l.Hash, $"{provider}: step {l.Step} yielded another batch"));
        _output.WriteLine($"{provider}: the old job ran steps 1-{oldLines.Max(l => l.Step)} and exited {oldCode}; the replacement resumed after step {resumedAfter}, ran to {steps} and exited {replacementCode}.");

        // What the old job did after the claim never became the latest: a restart finds step 120 and runs nothing.
        (int again, string againOutput) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, SpotTrainingTests.Arguments(_dir.Path, steps, stepDelayMs: 0, _dir.Combine("again.log"), saveSteps: 5, extra: store), RunTimeout, environment);
        Assert.True(again == 0, againOutput);
        Assert.Contains($"Reached global step {steps} of {steps}", againOutput, StringComparison.Ordinal);
        Assert.Empty(SpotTrainingTests.ReadLog(_dir.Combine("again.log")));
        if (provider == "Local")
        {
            foreach (string stateFile in new[] { "checkpoint_input", "checkpoint" })
            {
                CheckpointStateFile state = CheckpointStateFile.Parse(await File.ReadAllBytesAsync(Path.Combine(_dir.Path, "checkpoints", stateFile)), stateFile);
                Assert.Equal(steps, state.Latest!.Step);
                Assert.True(state.OwnerEpoch >= 2, $"{stateFile}: owner epoch {state.OwnerEpoch}");
            }
        }
    }
}
