using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>Bad arguments, bad URIs and missing stores: the documented message and exit code, never a stack trace.</summary>
public sealed class ErrorTests : IDisposable
{
    private readonly TempDirectory _temp = new("ckpt-errors");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Bad_command_lines_exit_2_with_usage_hint()
    {
        (await Ckpt.RunAsync()).ExpectFailure(CliExitCodes.BadArguments, "Run 'ckpt --help' for usage.");
        (await Ckpt.RunAsync("frobnicate")).ExpectFailure(CliExitCodes.BadArguments, "frobnicate");
        (await Ckpt.RunAsync("list")).ExpectFailure(CliExitCodes.BadArguments, "Run 'ckpt list --help' for usage.");
        (await Ckpt.RunAsync("list", _temp.Path, "--bogus")).ExpectFailure(CliExitCodes.BadArguments, "--bogus");
        (await Ckpt.RunAsync("prune", _temp.Path)).ExpectFailure(CliExitCodes.BadArguments, "--keep");
        (await Ckpt.RunAsync("prune", _temp.Path, "--keep", "0")).ExpectFailure(CliExitCodes.BadArguments, "--keep: \"0\" is not a whole number of at least 1.");
        (await Ckpt.RunAsync("prune", _temp.Path, "--keep", "two")).ExpectFailure(CliExitCodes.BadArguments, "--keep: \"two\" is not a whole number");
        (await Ckpt.RunAsync("gc", _temp.Path, "--grace", "soon")).ExpectFailure(CliExitCodes.BadArguments, "--grace: \"soon\" is not a duration");
        (await Ckpt.RunAsync("show", _temp.Path, "--step", "many")).ExpectFailure(CliExitCodes.BadArguments, "--step: \"many\" is not a whole number of zero or more.");
        (await Ckpt.RunAsync("list", _temp.Path, "--pipeline", "../etc")).ExpectFailure(CliExitCodes.BadArguments, "is not a pipeline (chain) name");
        (await Ckpt.RunAsync("list", "gs://bucket-1", "--endpoint", "ftp://x")).ExpectFailure(CliExitCodes.BadArguments, "is not an absolute http:// or https:// URL");
    }

    [Fact]
    public async Task Help_lists_the_commands()
    {
        CliResult help = (await Ckpt.RunAsync("--help")).Expect(0);
        foreach (string command in new[] { "list", "show", "verify", "prune", "gc", "copy" })
        {
            Assert.Contains(command, help.Output);
        }

        Assert.Contains("--keep", (await Ckpt.RunAsync("prune", "--help")).Expect(0).Output);
    }

    [Theory]
    [InlineData("http://example.com/ckpt", "has the unknown URI scheme \"http\"")]
    [InlineData("wasbs://box@acct.blob.core.windows.net/x", "has the unknown URI scheme \"wasbs\"")]
    [InlineData("s3:bucket/x", "is not a store URI: write s3://")]
    [InlineData("az://acct01", "names no container")]
    [InlineData("gs://", "names no bucket")]
    public async Task Bad_store_uris_exit_2(string uri, string message)
    {
        (await Ckpt.RunAsync("list", uri)).ExpectFailure(CliExitCodes.BadArguments, message);
        (await Ckpt.RunAsync("copy", _temp.Path, uri)).ExpectFailure(CliExitCodes.BadArguments, message);
    }

    [Fact]
    public async Task Store_settings_the_provider_rejects_exit_2()
    {
        (await Ckpt.RunAsync("list", "s3://ab", "--endpoint", "http://127.0.0.1:9")).ExpectFailure(CliExitCodes.BadArguments, "s3://ab: InputPipelineCheckpointing:S3:Bucket: \"ab\" is not a bucket name");
        (await Ckpt.RunAsync("list", "s3://bucket-1", "--region", "EU_WEST")).ExpectFailure(CliExitCodes.BadArguments, "is not a region name");
        (await Ckpt.RunAsync("list", _temp.Path, "--endpoint", "http://127.0.0.1:9")).ExpectFailure(CliExitCodes.BadArguments, "do not apply to a local directory");
        (await Ckpt.RunAsync("list", "gs://bucket-1", "--region", "eu-west-1")).ExpectFailure(CliExitCodes.BadArguments, "do not apply to gs:// stores");
        (await Ckpt.RunAsync("list", "az://acct01/box", "--connection-string-env", "CKPT_NOT_SET")).ExpectFailure(CliExitCodes.BadArguments, "the environment variable CKPT_NOT_SET (named by --connection-string-env) is not set.");
        var environment = new Dictionary<string, string> { ["OTHER"] = "DefaultEndpointsProtocol=https;AccountName=someoneelse;AccountKey=a2V5;EndpointSuffix=core.windows.net" };
        (await Ckpt.RunAsync(["list", "az://acct01/box", "--connection-string-env", "OTHER"], environment)).ExpectFailure(CliExitCodes.BadArguments, "the connection string is for the account \"someoneelse\", not \"acct01\".");
        (await Ckpt.RunAsync("copy", _temp.Path, "file://" + _temp.Path)).ExpectFailure(CliExitCodes.BadArguments, "the source and the destination are the same store");
    }

    [Fact]
    public async Task A_missing_local_store_exits_3_and_an_empty_one_has_nothing()
    {
        string missing = _temp.Combine("no-such-dir");
        foreach (string command in new[] { "list", "show", "verify", "gc" })
        {
            (await Ckpt.RunAsync(command, missing)).ExpectFailure(CliExitCodes.StoreUnavailable, $"the directory \"{missing}\" does not exist.");
        }

        (await Ckpt.RunAsync("prune", missing, "--keep", "1")).ExpectFailure(CliExitCodes.StoreUnavailable, "does not exist");
        (await Ckpt.RunAsync("copy", missing, _temp.Combine("dst"))).ExpectFailure(CliExitCodes.StoreUnavailable, "does not exist");
        Assert.False(Directory.Exists(_temp.Combine("dst")));

        string file = _temp.Combine("a-file");
        await File.WriteAllTextAsync(file, "x");
        (await Ckpt.RunAsync("list", file)).ExpectFailure(CliExitCodes.StoreUnavailable, "is a file, not a directory of checkpoints.");

        string empty = Directory.CreateDirectory(_temp.Combine("empty")).FullName;
        Assert.Contains("No checkpoints.", (await Ckpt.RunAsync("list", empty)).Expect(0).Output);
        (await Ckpt.RunAsync("verify", empty)).ExpectFailure(CliExitCodes.NotFound, "no checkpoints found");
        (await Ckpt.RunAsync("show", empty)).ExpectFailure(CliExitCodes.NotFound, "no checkpoints found");
        (await Ckpt.RunAsync("copy", empty, _temp.Combine("dst"))).ExpectFailure(CliExitCodes.NotFound, "no checkpoints found");
        Assert.Contains("no checkpoint objects.", (await Ckpt.RunAsync("gc", empty)).Expect(0).Output);

        await TestCheckpoints.SaveAsync(new LocalInputStateStore(empty), "input", count: 1);
        (await Ckpt.RunAsync("verify", empty, "--pipeline", "model")).ExpectFailure(CliExitCodes.NotFound, "no pipeline \"model\" (pipelines with checkpoints: input)");
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_one_line_naming_the_store_and_what_to_do()
    {
        var credentials = new Dictionary<string, string?> { ["AWS_ACCESS_KEY_ID"] = "test", ["AWS_SECRET_ACCESS_KEY"] = "test", ["AWS_EC2_METADATA_DISABLED"] = "true" };
        string endpoint = $"http://127.0.0.1:{FreePort.Get()}";

        string[][] commands = [["list", "s3://bucket-1/run-7"], ["show", "s3://bucket-1/run-7"], ["verify", "s3://bucket-1/run-7"], ["prune", "s3://bucket-1/run-7", "--keep", "1"], ["gc", "s3://bucket-1/run-7"]];

        // In parallel: each waits out the S3 SDK's retries.
        foreach (CliResult result in await Task.WhenAll(commands.Select(command => CkptProcess.RunAsync([.. command, "--endpoint", endpoint], credentials))))
        {
            result.ExpectFailure(CliExitCodes.StoreUnavailable, "ckpt: the store cannot be used: S3 store");
            Assert.Contains("Connection refused. Check the store's path or URI, --endpoint, the credentials and the network, then run the command again", result.Error, StringComparison.Ordinal);
            Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    [Fact]
    public async Task A_copy_onto_a_full_disk_is_one_line_and_the_same_copy_run_again_resumes()
    {
        // A real ENOSPC: the destination is a 64 KiB tmpfs in a private mount namespace (unshare --mount
        // --map-root-user); after the failed copy the test grows it and runs the same copy again.
        string source = _temp.Combine("job");
        await TestCheckpoints.CreateJobAsync(new LocalInputStateStore(source), size: 20_000);
        string mount = Directory.CreateDirectory(_temp.Combine("disk")).FullName;
        string destination = Path.Combine(mount, "copy");
        string script =
            "mount -t tmpfs -o size=64k tmpfs \"$1\" || { echo 'cannot mount a tmpfs (needs user namespaces or root)'; exit 90; }; " +
            "dotnet \"$2\" copy \"$3\" \"$4\" 2>&1; echo \"first copy: exit $?\"; " +
            "mount -o remount,size=4m \"$1\"; dotnet \"$2\" copy \"$3\" \"$4\" 2>&1; echo \"second copy: exit $?\"; " +
            "dotnet \"$2\" verify \"$4\" --all 2>&1; echo \"verify: exit $?\"";

        CliResult run = await CkptProcess.RunCommandAsync(["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", mount, CkptProcess.ToolDll, source, destination]);

        Assert.True(run.ExitCode != 90, "This test makes a full disk with a tmpfs in a private mount namespace; here that failed: " + run);
        string[] lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int first = Array.IndexOf(lines, "first copy: exit 3");
        Assert.True(first > 0, run.ToString());
        string failure = lines[first - 1];
        Assert.StartsWith("ckpt: the store cannot be used: Local store, key ", failure, StringComparison.Ordinal);
        Assert.Contains("No space left on device", failure, StringComparison.Ordinal);
        Assert.EndsWith("then run the command again (a `ckpt copy` run again resumes).", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output, StringComparison.Ordinal);
        Assert.Contains("second copy: exit 0", lines);
        Assert.Contains("verify: exit 0", lines);
        Assert.Contains(lines, l => l.StartsWith("Copied ", StringComparison.Ordinal) && l.Contains("already there", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_damaged_state_file_is_reported_and_the_checkpoints_are_still_found()
    {
        string path = _temp.Combine("job");
        var store = new LocalInputStateStore(path);
        await TestCheckpoints.SaveAsync(store, "input", count: 2);
        await store.WriteAsync("checkpoint_input", new MemoryStream("{ not json"u8.ToArray()), WriteCondition.None);

        CliResult list = (await Ckpt.RunAsync("list", path)).Expect(0);
        Assert.Contains("state file checkpoint_input DAMAGED: found by listing manifests; 2 checkpoints", list.Output);
        (await Ckpt.RunAsync("verify", path)).ExpectFailure(CliExitCodes.Damaged, "state file \"checkpoint_input\" is damaged");
    }
}
