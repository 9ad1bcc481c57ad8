using System.Security.Cryptography;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// SpotTorch unchanged against S3 (moto) and Azure Blob (Azurite), selected by configuration alone: killed at random
/// steps and during saves, stopped by SIGTERM and restarted, every step logs the loss bits of the uninterrupted (Local)
/// run and the final parameters hash the same. Each emulator is started on a free loopback port and stopped at the end.
/// </summary>
[Collection(SpotTorchTestGroup.Name)]
public sealed class SpotTorchOnEmulatorsTests : IClassFixture<SpotTorchReference>, IDisposable
{
    private readonly SpotTorchReference _reference;
    private readonly TempDirectory _dir = new("torch-cloud");

    public SpotTorchOnEmulatorsTests(SpotTorchReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("S3")]
    [InlineData("AzureBlob")]
    public async Task KilledStoppedAndRestarted_OnTheEmulator_TheLossesAndFinalWeightsAreBitForBitTheUninterruptedOnes(string provider)
    {
        int port = FreePort.Get();
        string name = "torch-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var environment = new Dictionary<string, string>();
        await using ExternalProcess emulator = provider == "S3"
            ? await MotoServer.StartAsync(port, _dir.Path)
            : await AzuriteServer.StartAsync(port, _dir.Combine("azurite"));
        string[] store = provider == "S3"
            ?
            [
                "--InputPipelineCheckpointing:Provider=S3",
                $"--InputPipelineCheckpointing:S3:Bucket={name}",
                $"--InputPipelineCheckpointing:S3:ServiceUrl=http://127.0.0.1:{port}",
                "--InputPipelineCheckpointing:S3:ForcePathStyle=true",
                "--InputPipelineCheckpointing:S3:Region=us-east-1",
                "--InputPipelineCheckpointing:S3:CreateBucketIfMissing=true",
            ]
            :
            [
                "--InputPipelineCheckpointing:Provider=AzureBlob",
                "--InputPipelineCheckpointing:AzureBlob:ConnectionString=" + AzuriteServer.ConnectionStringFor(port),
                $"--InputPipelineCheckpointing:AzureBlob:Container={name}",
                "--InputPipelineCheckpointing:AzureBlob:CreateContainerIfMissing=true",
            ];
        if (provider == "S3")
        {
            environment["AWS_ACCESS_KEY_ID"] = "test";
            environment["AWS_SECRET_ACCESS_KEY"] = "test";
        }

        string log = _dir.Combine("loss.log");
        const int SaveSteps = 10;
        string[] args = SpotTorchTests.Arguments(_dir.Path, SpotTorchReference.Steps, log, SaveSteps, store);
        var random = new Random(provider.Length * 7919); // a fixed seed per provider, so a failure reproduces
        for (int kill = 0; kill < 3; kill++)
        {
            // Alternately a few milliseconds into a random step, and right after a step that triggers a save.
            int after = kill % 2 == 0 ? random.Next(3, 25) : SaveSteps * random.Next(1, 3);
            await SpotTorchTests.KillWhenAsync(_dir.Path, args, log, added => added >= after, random.Next(0, 4), environment, () => emulator.RecentOutput);
        }

        long stoppedAt = await SpotTorchTests.TerminateAfterAsync(_dir.Path, args, log, random.Next(5, 20), environment);
        int beforeFinal = SpotTorchTests.ReadLog(log).Count;
        (int code, string output) = await SampleProcess.RunAsync("SpotTorch", _dir.Path, args, SpotTorchTests.RunTimeout, environment);

        Assert.True(code == 0, $"{provider}: {output}\n{emulator.RecentOutput}");
        List<(long Step, string Bits)> lines = SpotTorchTests.ReadLog(log);
        SpotTorchTests.AssertSameAsReference(_reference, lines, provider);
        Assert.True(lines.Count > SpotTorchReference.Steps, $"{provider}: no step ran twice, so no kill landed between two checkpoints");
        Assert.Equal(stoppedAt + 1, lines[beforeFinal].Step);
        Assert.Equal(_reference.Parameters, SpotTorchTests.ParametersLine(output));
        Assert.False(Directory.Exists(_dir.Combine("checkpoints")), $"{provider}: the Local store was used instead of {provider}");
    }
}
