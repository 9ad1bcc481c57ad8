using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// SpotTraining's pipeline reads its files with a parallel interleave and decodes lines with a parallel map: the batches
/// of an uninterrupted run, and so the BatchLog, are the same at every Training:Parallelism, and a checkpoint saved at one
/// parallelism resumes at another.
/// </summary>
public sealed class SpotTrainingParallelismTests : IDisposable
{
    private const long Steps = 80;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly TempDirectory _dir = new("spot-parallelism");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task UninterruptedRuns_AtParallelism1_2And4_LogTheSameBatchHashes()
    {
        var logs = new Dictionary<int, List<(long Step, string Hash)>>();
        foreach (int parallelism in new[] { 1, 2, 4 })
        {
            string root = _dir.Combine($"p{parallelism}");
            Directory.CreateDirectory(root);
            string log = Path.Combine(root, "batches.log");
            (int code, string output) = await SampleProcess.RunAsync(
                "SpotTraining",
                root,
                SpotTrainingTests.Arguments(root, Steps, stepDelayMs: 0, log, extra: $"--Training:Parallelism={parallelism}"),
                RunTimeout);
            Assert.True(code == 0, $"The run at parallelism {parallelism} exited with {code}:\n{output}");
            logs[parallelism] = SpotTrainingTests.ReadLog(log);
            Assert.Equal(Enumerable.Range(1, (int)Steps).Select(i => (long)i), logs[parallelism].Select(l => l.Step));
        }

        Assert.Equal(logs[1], logs[2]);
        Assert.Equal(logs[1], logs[4]);
        Assert.Equal(Steps, logs[1].Select(l => l.Hash).Distinct().Count());
    }

    [Fact]
    public async Task ACheckpointSavedAtParallelism4_ResumesAtParallelism1_WithTheSameBatches()
    {
        string reference = _dir.Combine("reference");
        Directory.CreateDirectory(reference);
        string referenceLog = Path.Combine(reference, "batches.log");
        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", reference, SpotTrainingTests.Arguments(reference, Steps, 0, referenceLog, extra: "--Training:Parallelism=2"), RunTimeout);
        Assert.True(code == 0, output);

        string root = _dir.Combine("switch");
        Directory.CreateDirectory(root);
        string log = Path.Combine(root, "batches.log");
        (code, output) = await SampleProcess.RunAsync("SpotTraining", root, SpotTrainingTests.Arguments(root, 45, 0, log, extra: "--Training:Parallelism=4"), RunTimeout);
        Assert.True(code == 0, output);
        (code, output) = await SampleProcess.RunAsync("SpotTraining", root, SpotTrainingTests.Arguments(root, Steps, 0, log, extra: "--Training:Parallelism=1"), RunTimeout);
        Assert.True(code == 0, output);

        // SaveSteps is 10: the second run resumes at step 45's final checkpoint and logs steps 46 to 80 once.
        Assert.Equal(SpotTrainingTests.ReadLog(referenceLog), SpotTrainingTests.ReadLog(log));
    }

    [Fact]
    public async Task ParallelismBelowOne_ExitsWithCode2_NamingTheKey()
    {
        (int code, string output) = await SampleProcess.RunAsync(
            "SpotTraining",
            _dir.Path,
            SpotTrainingTests.Arguments(_dir.Path, 5, 0, _dir.Combine("b.log"), extra: "--Training:Parallelism=0"),
            RunTimeout);
        Assert.Equal(2, code);
        Assert.Contains("Training:Parallelism", output, StringComparison.Ordinal);
    }
}
