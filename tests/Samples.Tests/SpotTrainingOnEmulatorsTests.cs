using System.Security.Cryptography;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// SpotTraining unchanged against each cloud's emulator, selected by configuration alone: killed at random steps and
/// restarted, every step yields the same batch as the uninterrupted (Local) run. Each emulator is started on a free
/// loopback port, with its data in a temp folder, and stopped at the end.
/// </summary>
public sealed class SpotTrainingOnEmulatorsTests : IClassFixture<SpotTrainingReference>, IDisposable
{
    private const long Steps = 60;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly SpotTrainingReference _reference;
    private readonly TempDirectory _dir = new("spot-cloud");

    public SpotTrainingOnEmulatorsTests(SpotTrainingReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("AzureBlob")]
    [InlineData("S3")]
    [InlineData("Gcs")]
    public async Task KilledAndRestarted_OnTheEmulator_EveryStepYieldsTheSameBatch(string provider)
    {
        int port = FreePort.Get();
        string name = "spot-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var environment = new Dictionary<string, string>();
        string[] store;
        await using ExternalProcess emulator = provider switch
        {
            "AzureBlob" => await AzuriteServer.StartAsync(port, _dir.Combine("azurite")),
            "S3" => await MotoServer.StartAsync(port, _dir.Path),
            _ => await ExternalProcess.StartAsync(
                $"GcsEmulator on 127.0.0.1:{port}",
                "dotnet",
                [Path.Combine(RepositoryPaths.Root, "tests", "GcsEmulator", "bin", SampleProcess.Configuration, "net10.0", "GcsEmulator.dll"), "--urls", $"http://127.0.0.1:{port}"],
                ExternalProcess.HttpReady(new Uri($"http://127.0.0.1:{port}/_emulator/health")),
                TimeSpan.FromSeconds(60)),
        };
        switch (provider)
        {
            case "AzureBlob":
                store =
                [
                    "--InputPipelineCheckpointing:Provider=AzureBlob",
                    "--InputPipelineCheckpointing:AzureBlob:ConnectionString=" + AzuriteServer.ConnectionStringFor(port),
                    $"--InputPipelineCheckpointing:AzureBlob:Container={name}",
                    "--InputPipelineCheckpointing:AzureBlob:CreateContainerIfMissing=true",
                ];
                break;
            case "S3":
                environment["AWS_ACCESS_KEY_ID"] = "test";
                environment["AWS_SECRET_ACCESS_KEY"] = "test";
                store =
                [
                    "--InputPipelineCheckpointing:Provider=S3",
                    $"--InputPipelineCheckpointing:S3:Bucket={name}",
                    $"--InputPipelineCheckpointing:S3:ServiceUrl=http://127.0.0.1:{port}",
                    "--InputPipelineCheckpointing:S3:ForcePathStyle=true",
                    "--InputPipelineCheckpointing:S3:Region=us-east-1",
                    "--InputPipelineCheckpointing:S3:CreateBucketIfMissing=true",
                ];
                break;
            default:
                store =
                [
                    "--InputPipelineCheckpointing:Provider=Gcs",
                    $"--InputPipelineCheckpointing:Gcs:Bucket={name}",
                    $"--InputPipelineCheckpointing:Gcs:BaseUri=http://127.0.0.1:{port}/",
                    "--InputPipelineCheckpointing:Gcs:ProjectId=spot-training",
                    "--InputPipelineCheckpointing:Gcs:CreateBucketIfMissing=true",
                ];
                break;
        }

        string log = _dir.Combine("batches.log");
        string[] args = SpotTrainingTests.Arguments(_dir.Path, Steps, stepDelayMs: 15, log, saveSteps: 5, extra: store);
        var random = new Random(provider.Length * 7919); // a fixed seed per provider, so a failure reproduces
        for (int kill = 0; kill < 3; kill++)
        {
            int target = SpotTrainingTests.ReadLog(log).Count + random.Next(3, 11); // at most 30 new steps in 3 runs: never the whole 60
            using SampleProcess process = SampleProcess.Start("SpotTraining", _dir.Path, args, environment);
            using var deadline = new CancellationTokenSource(RunTimeout);
            while (SpotTrainingTests.ReadLog(log).Count < target)
            {
                Assert.False(process.HasExited, $"{provider}: the run exited before it was killed:\n{process.Output}\n{emulator.RecentOutput}");
                await Task.Delay(5, deadline.Token);
            }

            process.Kill();
            await process.WaitAsync(RunTimeout);
        }

        (int code, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, args, RunTimeout, environment);

        Assert.True(code == 0, $"{provider}: {output}\n{emulator.RecentOutput}");
        List<(long Step, string Hash)> lines = SpotTrainingTests.ReadLog(log);
        Assert.Equal(Enumerable.Range(1, (int)Steps).Select(i => (long)i), lines.Select(l => l.Step).Distinct().Order());
        Assert.True(lines.Count > Steps, $"{provider}: no step was run twice, so no kill landed between two checkpoints");
        Assert.All(lines, l => Assert.True(_reference.Hashes[l.Step] == l.Hash, $"{provider}: step {l.Step} yielded another batch after a restart"));
        Assert.False(Directory.Exists(_dir.Combine("checkpoints")), $"{provider}: the Local store was used instead of {provider}");
    }
}
