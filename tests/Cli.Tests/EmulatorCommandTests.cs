using System.Text.Json;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>The commands against the GCS emulator, moto (S3) and Azurite (Azure Blob), and copies between all of them.</summary>
[Collection(EmulatorGroup.Name)]
public sealed class EmulatorCommandTests(EmulatorFixture emulators) : IDisposable
{
    private readonly TempDirectory _temp = new("ckpt-emulators");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Every_command_works_on_the_gcs_emulator()
    {
        string bucket = emulators.CreateGcsBucket();
        IInputStateStore store = emulators.GcsStore(bucket, "jobs/run-1");
        await TestCheckpoints.CreateJobAsync(store);
        string uri = $"gs://{bucket}/jobs/run-1";
        string endpoint = emulators.GcsEndpoint.AbsoluteUri;

        CliResult list = (await Ckpt.RunAsync("list", uri, "--endpoint", endpoint)).Expect(0);
        Assert.Contains($"{uri} (Gcs)", list.Output);
        Assert.Contains("pipeline input  (state file checkpoint_input; 5 checkpoints)", list.Output);
        Assert.Contains("pipeline input, step 80 (latest)", (await Ckpt.RunAsync("show", uri, "--endpoint", endpoint, "-p", "input")).Expect(0).Output);
        Assert.Contains("8 checkpoints verified: all sound.", (await Ckpt.RunAsync("verify", uri, "--endpoint", endpoint, "--all")).Expect(0).Output);

        SortedDictionary<string, byte[]> before = await TestCheckpoints.SnapshotAsync(store);
        (await Ckpt.RunAsync("prune", uri, "--endpoint", endpoint, "--keep", "1", "--dry-run")).Expect(0);
        (await Ckpt.RunAsync("gc", uri, "--endpoint", endpoint, "--grace", "0", "--dry-run")).Expect(0);
        Assert.Equal(before, await TestCheckpoints.SnapshotAsync(store));

        await store.WriteAsync("input.ckpt-999.00000000dead.train.part", new MemoryStream(new byte[5]), WriteCondition.IfAbsent);
        CliResult gc = (await Ckpt.RunAsync("gc", uri, "--endpoint", endpoint, "--grace", "0")).Expect(0);
        Assert.Contains("Deleted 1 orphan (5 B).", gc.Output);

        CliResult pruned = (await Ckpt.RunAsync("prune", uri, "--endpoint", endpoint, "--keep", "2", "--pipeline", "model")).Expect(0);
        Assert.Contains("Pruned 1 checkpoint.", pruned.Output);
        using (var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "model", StateFileKey = "checkpoint" }))
        {
            IReadOnlyList<CheckpointReference> left = await manager.ListCheckpointsAsync();
            Assert.Equal([80L, 40L], left.Select(r => r.Step));
            CheckpointManifest latest = await manager.ReadManifestAsync(left[0]);
            await TestCheckpoints.CorruptAsync(store, latest.Parts[0].Key);
            (await Ckpt.RunAsync("verify", uri, "--endpoint", endpoint)).ExpectFailure(CliExitCodes.Damaged, $"pipeline model, step 80: damaged part \"{latest.Parts[0].Key}\"");
        }

        CliResult missing = await Ckpt.RunAsync("list", $"gs://{bucket}-missing", "--endpoint", endpoint);
        missing.ExpectFailure(CliExitCodes.StoreUnavailable, $"the bucket \"{bucket}-missing\" does not exist at {endpoint}; create it first (ckpt never creates buckets or containers).");
        Assert.DoesNotContain("InputPipelineCheckpointing:", missing.Error);
    }

    [Fact]
    public async Task Every_command_works_on_moto()
    {
        string bucket = await emulators.CreateS3BucketAsync();
        IInputStateStore store = emulators.S3Store(bucket);
        await TestCheckpoints.CreateJobAsync(store);
        string uri = $"s3://{bucket}";
        string endpoint = emulators.S3Endpoint.AbsoluteUri;

        CliResult json = (await Ckpt.RunAsync("list", uri, "--endpoint", endpoint, "--json")).Expect(0);
        using (JsonDocument document = JsonDocument.Parse(json.Output))
        {
            Assert.Equal("S3", document.RootElement.GetProperty("provider").GetString());
            Assert.Equal(5, document.RootElement.GetProperty("chains")[0].GetProperty("checkpoints").GetArrayLength());
        }

        Assert.Contains("\"step\": 40", (await Ckpt.RunAsync("show", uri, "--endpoint", endpoint, "--step", "40", "--json")).Expect(0).Output);
        (await Ckpt.RunAsync("verify", uri, "--endpoint", endpoint, "--all")).Expect(0);
        SortedDictionary<string, byte[]> before = await TestCheckpoints.SnapshotAsync(store);
        Assert.Contains("would delete", (await Ckpt.RunAsync("prune", uri, "--endpoint", endpoint, "--keep", "1", "--dry-run")).Expect(0).Output);
        (await Ckpt.RunAsync("gc", uri, "--endpoint", endpoint, "--dry-run")).Expect(0);
        Assert.Equal(before, await TestCheckpoints.SnapshotAsync(store));
        (await Ckpt.RunAsync("prune", uri, "--endpoint", endpoint, "--keep", "3", "-p", "input")).Expect(0);
        using (var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" }))
        {
            Assert.Equal([80L, 60L, 40L], (await manager.ListCheckpointsAsync()).Select(r => r.Step));
        }

        (await Ckpt.RunAsync("verify", uri, "--endpoint", endpoint, "--all")).Expect(0);
        (await Ckpt.RunAsync("list", $"s3://{bucket}-missing", "--endpoint", endpoint)).ExpectFailure(CliExitCodes.StoreUnavailable, $"the bucket \"{bucket}-missing\" does not exist; create it first");
    }

    [Fact]
    public async Task Copy_goes_local_to_s3_to_gcs_to_azure_and_every_copy_equals_the_original()
    {
        string localPath = _temp.Combine("job");
        var local = new LocalInputStateStore(localPath);
        await TestCheckpoints.CreateJobAsync(local, size: 300 * 1024);
        string s3Bucket = await emulators.CreateS3BucketAsync();
        string gcsBucket = emulators.CreateGcsBucket();
        string container = await emulators.CreateAzureContainerAsync();
        string s3 = $"s3://{s3Bucket}/copies/run-1";
        string gs = $"gs://{gcsBucket}/run-1";
        string az = $"az://{EmulatorFixture.AzuriteAccount}/{container}/run-1";
        string s3Endpoint = emulators.S3Endpoint.AbsoluteUri;
        string gcsEndpoint = emulators.GcsEndpoint.AbsoluteUri;
        (string, string)[] chains = [("input", "checkpoint_input"), ("model", "checkpoint")];

        Assert.Contains("Copied 8 checkpoints", (await Ckpt.RunAsync("copy", localPath, s3, "--dst-endpoint", s3Endpoint)).Expect(0).Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(local, emulators.S3Store(s3Bucket, "copies/run-1"), chains);

        Assert.Contains("Copied 8 checkpoints", (await Ckpt.RunAsync("copy", s3, gs, "--src-endpoint", s3Endpoint, "--dst-endpoint", gcsEndpoint)).Expect(0).Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(local, emulators.GcsStore(gcsBucket, "run-1"), chains);

        CliResult toAzure = await Ckpt.RunAsync(["copy", gs, az, "--src-endpoint", gcsEndpoint, "--dst-connection-string-env", EmulatorFixture.AzureConnectionVariable], emulators.Environment);
        Assert.Contains("Copied 8 checkpoints", toAzure.Expect(0).Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(local, emulators.AzureStore(container, "run-1"), chains);

        // The same listing, whatever the store: steps, times, sizes, parts and writers.
        string Rows(CliResult result) => string.Join('\n', result.Output.Split('\n').Skip(1));
        CliResult fromLocal = (await Ckpt.RunAsync("list", localPath)).Expect(0);
        Assert.Equal(Rows(fromLocal), Rows((await Ckpt.RunAsync("list", s3, "--endpoint", s3Endpoint)).Expect(0)));
        Assert.Equal(Rows(fromLocal), Rows((await Ckpt.RunAsync("list", gs, "--endpoint", gcsEndpoint)).Expect(0)));
        Assert.Equal(Rows(fromLocal), Rows((await Ckpt.RunAsync(["list", az, "--connection-string-env", EmulatorFixture.AzureConnectionVariable], emulators.Environment)).Expect(0)));
        (await Ckpt.RunAsync(["verify", az, "--all", "--connection-string-env", EmulatorFixture.AzureConnectionVariable], emulators.Environment)).Expect(0);

        CliResult noContainer = await Ckpt.RunAsync(["list", $"az://{EmulatorFixture.AzuriteAccount}/{container}-missing", "--connection-string-env", EmulatorFixture.AzureConnectionVariable], emulators.Environment);
        noContainer.ExpectFailure(CliExitCodes.StoreUnavailable, $"the container \"{container}-missing\" does not exist");
        Assert.Contains("create it first (ckpt never creates buckets or containers)", noContainer.Error);

        // Copying again finds everything there and sound.
        CliResult again = (await Ckpt.RunAsync("copy", s3, gs, "--src-endpoint", s3Endpoint, "--dst-endpoint", gcsEndpoint)).Expect(0);
        Assert.Contains("Copied 0 checkpoints (0 B) of 2 pipelines", again.Output);
        Assert.Contains("8 already there and verified.", again.Output);

        // And back to a local directory.
        string back = _temp.Combine("back");
        (await Ckpt.RunAsync(["copy", az, back, "--src-connection-string-env", EmulatorFixture.AzureConnectionVariable], emulators.Environment)).Expect(0);
        await TestCheckpoints.AssertSameCheckpointsAsync(local, new LocalInputStateStore(back), chains);
    }

    [Fact]
    public async Task The_built_tool_reports_missing_credentials_without_a_stack_trace()
    {
        string bucket = await emulators.CreateS3BucketAsync();
        string home = Directory.CreateDirectory(_temp.Combine("home")).FullName;
        var noCredentials = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = null,
            ["AWS_SECRET_ACCESS_KEY"] = null,
            ["AWS_SESSION_TOKEN"] = null,
            ["AWS_PROFILE"] = null,
            ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(home, "none"),
            ["AWS_CONFIG_FILE"] = Path.Combine(home, "none"),
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["HOME"] = home,
            ["GOOGLE_APPLICATION_CREDENTIALS"] = Path.Combine(home, "no-such-key.json"),
        };

        CliResult s3 = await CkptProcess.RunAsync(["list", $"s3://{bucket}", "--endpoint", emulators.S3Endpoint.AbsoluteUri], noCredentials);
        s3.ExpectFailure(CliExitCodes.StoreUnavailable, "the store cannot be used:");
        Assert.Contains("credentials", s3.Error, StringComparison.OrdinalIgnoreCase);

        CliResult gcs = await CkptProcess.RunAsync(["list", "gs://some-bucket"], noCredentials);
        gcs.ExpectFailure(CliExitCodes.StoreUnavailable, "the store cannot be used:");
        Assert.Contains("no-such-key.json", gcs.Error);
    }
}
