using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>The built <c>ckpt</c> executable, run as a process.</summary>
public sealed class ProcessTests : IDisposable
{
    private readonly TempDirectory _temp = new("ckpt-process");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_executable_lists_verifies_and_exits_with_the_documented_codes()
    {
        string path = _temp.Combine("job");
        var store = new LocalInputStateStore(path);
        await TestCheckpoints.CreateJobAsync(store);

        CliResult list = (await CkptProcess.RunAsync(["list", path])).Expect(0);
        Assert.Contains("pipeline input  (state file checkpoint_input; 5 checkpoints)", list.Output);
        Assert.Equal(string.Empty, list.Error);

        string copy = _temp.Combine("copy");
        CliResult copied = (await CkptProcess.RunAsync(["copy", path, "file://" + copy])).Expect(0);
        Assert.Contains("Copied 8 checkpoints", copied.Output);
        Assert.DoesNotContain("\u001b[", copied.Output); // no progress bar when stdout is not a terminal

        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" });
        string part = (await manager.ReadManifestAsync((await manager.ListCheckpointsAsync())[0])).Parts[0].Key;
        await TestCheckpoints.CorruptAsync(store, part);
        (await CkptProcess.RunAsync(["verify", path])).ExpectFailure(CliExitCodes.Damaged, $"damaged part \"{part}\"");
        (await CkptProcess.RunAsync(["verify", copy])).Expect(0);
        (await CkptProcess.RunAsync(["list", "ftp://host/x"])).ExpectFailure(CliExitCodes.BadArguments, "unknown URI scheme \"ftp\"");
        (await CkptProcess.RunAsync(["list", _temp.Combine("missing")])).ExpectFailure(CliExitCodes.StoreUnavailable, "does not exist");
        (await CkptProcess.RunAsync(["prune", path])).ExpectFailure(CliExitCodes.BadArguments, "--keep");
    }
}
