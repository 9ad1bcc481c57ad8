using System.Text.Json;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>Every command against the Local store, in-process.</summary>
public sealed class LocalCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("ckpt-local");

    public void Dispose() => _temp.Dispose();

    private async Task<(string Path, LocalInputStateStore Store)> JobAsync(string name = "job")
    {
        string path = _temp.Combine(name);
        var store = new LocalInputStateStore(path);
        await TestCheckpoints.CreateJobAsync(store);
        return (path, store);
    }

    [Fact]
    public async Task List_shows_every_pipeline_with_its_retained_checkpoints()
    {
        (string path, _) = await JobAsync();

        CliResult text = (await Ckpt.RunAsync("list", path)).Expect(0);
        Assert.Contains("pipeline input  (state file checkpoint_input; 5 checkpoints)", text.Output);
        Assert.Contains("pipeline model  (state file checkpoint; 3 checkpoints)", text.Output);
        string[] inputRows = [.. text.Output.Split('\n').SkipWhile(l => !l.StartsWith("pipeline input", StringComparison.Ordinal)).Skip(2).Take(5)];
        Assert.Equal(["80", "60", "40", "20", "0"], inputRows.Select(r => r.Trim().Split(' ')[0]));
        Assert.EndsWith("latest", inputRows[0].Trim());
        Assert.Contains("2.0 KiB", inputRows[0]);
        Assert.Contains("test-host/input", inputRows[0]);

        CliResult json = (await Ckpt.RunAsync("list", path, "--json")).Expect(0);
        using JsonDocument document = JsonDocument.Parse(json.Output);
        JsonElement chains = document.RootElement.GetProperty("chains");
        Assert.Equal("Local", document.RootElement.GetProperty("provider").GetString());
        Assert.Equal(["input", "model"], chains.EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        JsonElement latest = chains[0].GetProperty("checkpoints")[0];
        Assert.Equal(80, latest.GetProperty("step").GetInt64());
        Assert.True(latest.GetProperty("latest").GetBoolean());
        Assert.Equal(2000, latest.GetProperty("size").GetInt64());
        Assert.Equal(2, latest.GetProperty("parts").GetInt32());
        Assert.False(chains[0].GetProperty("checkpoints")[1].GetProperty("latest").GetBoolean());
        Assert.Equal("checkpoint", chains[1].GetProperty("stateFile").GetString());
        Assert.Equal([80L, 40L, 0L], chains[1].GetProperty("checkpoints").EnumerateArray().Select(c => c.GetProperty("step").GetInt64()));

        CliResult one = (await Ckpt.RunAsync("list", path, "--pipeline", "model", "--json")).Expect(0);
        Assert.Single(JsonDocument.Parse(one.Output).RootElement.GetProperty("chains").EnumerateArray());
    }

    [Fact]
    public async Task Show_prints_the_manifest_parts_sizes_and_checksums()
    {
        (string path, LocalInputStateStore store) = await JobAsync();
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" });
        CheckpointManifest manifest = await manager.ReadManifestAsync((await manager.ListCheckpointsAsync())[0]);

        CliResult text = (await Ckpt.RunAsync("show", path, "--pipeline", "input")).Expect(0);
        Assert.Contains("pipeline input, step 80 (latest)", text.Output);
        foreach (CheckpointPartInfo part in manifest.Parts)
        {
            Assert.Contains(part.Key, text.Output);
            Assert.Contains(part.Checksum, text.Output);
        }

        Assert.Contains(manifest.SaveId, text.Output);
        Assert.Contains("2.0 KiB (2000 bytes) in 2 parts", text.Output);

        CliResult json = (await Ckpt.RunAsync("show", path, "--step", "40", "--json")).Expect(0);
        JsonElement[] shown = [.. JsonDocument.Parse(json.Output).RootElement.GetProperty("checkpoints").EnumerateArray()];
        Assert.Equal(["input", "model"], shown.Select(c => c.GetProperty("chain").GetString()));
        Assert.All(shown, c => Assert.Equal(40, c.GetProperty("step").GetInt64()));
        Assert.False(shown[0].GetProperty("latest").GetBoolean());
        Assert.Equal(["train", "shuffle"], shown[0].GetProperty("parts").EnumerateArray().Select(p => p.GetProperty("name").GetString()));

        (await Ckpt.RunAsync("show", path, "--step", "50")).ExpectFailure(CliExitCodes.NotFound, "no checkpoint at step 50 (retained steps: input: 80, 60, 40, 20, 0; model: 80, 40, 0)");
        (await Ckpt.RunAsync("show", path, "--pipeline", "nope")).ExpectFailure(CliExitCodes.NotFound, "no pipeline \"nope\" (pipelines with checkpoints: input, model)");
    }

    [Fact]
    public async Task Verify_passes_on_sound_checkpoints_and_names_a_damaged_part()
    {
        (string path, LocalInputStateStore store) = await JobAsync();
        CliResult sound = (await Ckpt.RunAsync("verify", path, "--all")).Expect(0);
        Assert.Contains("8 checkpoints verified: all sound.", sound.Output);

        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" });
        IReadOnlyList<CheckpointReference> references = await manager.ListCheckpointsAsync();
        CheckpointManifest older = await manager.ReadManifestAsync(references[2]);
        string damaged = older.Parts[1].Key;
        await TestCheckpoints.CorruptAsync(store, damaged);

        // Only the latest is verified by default, and it is sound.
        (await Ckpt.RunAsync("verify", path)).Expect(0);
        CliResult all = await Ckpt.RunAsync("verify", path, "--all");
        all.ExpectFailure(CliExitCodes.Damaged, $"pipeline input, step 40: damaged part \"{damaged}\"");
        Assert.Contains($"input  step 40  DAMAGED  part {damaged}", all.Output);
        Assert.Contains("input  step 60  ok", all.Output);

        CheckpointManifest latest = await manager.ReadManifestAsync(references[0]);
        File.Delete(Path.Combine(path, latest.Parts[0].Key));
        (await Ckpt.RunAsync("verify", path, "--pipeline", "input")).ExpectFailure(CliExitCodes.Damaged, $"damaged part \"{latest.Parts[0].Key}\": the part is missing from the store.");
        (await Ckpt.RunAsync("verify", path, "--pipeline", "model", "--all")).Expect(0);
    }

    [Fact]
    public async Task Prune_dry_run_changes_nothing_and_prune_keeps_the_newest_through_the_manager()
    {
        (string path, LocalInputStateStore store) = await JobAsync();
        SortedDictionary<string, byte[]> before = await TestCheckpoints.SnapshotAsync(store);

        CliResult dry = (await Ckpt.RunAsync("prune", path, "--keep", "2", "--dry-run")).Expect(0);
        Assert.Contains("pipeline input: 5 checkpoints; keeping the 2 newest (steps 80, 60), removing 3 (steps 40, 20, 0).", dry.Output);
        Assert.Contains("pipeline model: 3 checkpoints; keeping the 2 newest (steps 80, 40), removing 1 (steps 0).", dry.Output);
        Assert.Contains("would delete  input.ckpt-0.", dry.Output);
        Assert.Contains("Dry run: nothing was changed.", dry.Output);
        Assert.Equal(before, await TestCheckpoints.SnapshotAsync(store));

        CliResult pruned = (await Ckpt.RunAsync("prune", path, "--keep", "2", "--pipeline", "input")).Expect(0);
        Assert.Contains("Pruned 3 checkpoints.", pruned.Output);
        Assert.Equal("", pruned.Error);

        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" });
        Assert.Equal([80L, 60L], (await manager.ListCheckpointsAsync()).Select(r => r.Step));
        SortedDictionary<string, byte[]> after = await TestCheckpoints.SnapshotAsync(store);
        Assert.Equal(6, after.Keys.Count(k => k.StartsWith("input.ckpt-", StringComparison.Ordinal)));
        Assert.DoesNotContain(after.Keys, k => k.StartsWith("input.ckpt-40.", StringComparison.Ordinal) || k.StartsWith("input.ckpt-0.", StringComparison.Ordinal));
        Assert.Equal(before.Where(p => p.Key.StartsWith("model", StringComparison.Ordinal) || p.Key == "checkpoint"), after.Where(p => p.Key.StartsWith("model", StringComparison.Ordinal) || p.Key == "checkpoint"));

        Dictionary<string, byte[]> restored = await TestCheckpoints.RestoreLatestAsync(store, "input", ["train", "shuffle"]);
        Assert.Equal(TestCheckpoints.PartBytes("input", 80, "train", 1000), restored["train"]);
        Assert.Equal(TestCheckpoints.PartBytes("input", 80, "shuffle", 1000), restored["shuffle"]);
        (await Ckpt.RunAsync("verify", path, "--all")).Expect(0);
        CliResult again = (await Ckpt.RunAsync("prune", path, "--keep", "2", "--pipeline", "input")).Expect(0);
        Assert.Contains("pipeline input: 2 checkpoints, nothing to prune.", again.Output);
    }

    [Fact]
    public async Task Gc_dry_run_changes_nothing_and_gc_collects_only_old_orphans()
    {
        (string path, LocalInputStateStore store) = await JobAsync();
        await store.WriteAsync("input.ckpt-100.0badc0ffee00.train.part", new MemoryStream(new byte[300]), WriteCondition.IfAbsent);
        await store.WriteAsync("input.ckpt-100.0badc0ffee00.manifest", new MemoryStream(new byte[10]), WriteCondition.IfAbsent);
        await store.WriteAsync("model.ckpt-120.0badc0ffee01.model.part", new MemoryStream(new byte[20]), WriteCondition.IfAbsent);
        await store.WriteAsync("input.ckpt-101.0fre5h000000.train.part", new MemoryStream(new byte[7]), WriteCondition.IfAbsent);
        foreach (string old in new[] { "input.ckpt-100.0badc0ffee00.train.part", "input.ckpt-100.0badc0ffee00.manifest", "model.ckpt-120.0badc0ffee01.model.part" })
        {
            File.SetLastWriteTimeUtc(Path.Combine(path, old), DateTime.UtcNow.AddHours(-2));
        }

        SortedDictionary<string, byte[]> before = await TestCheckpoints.SnapshotAsync(store);
        CliResult dry = (await Ckpt.RunAsync("gc", path, "--dry-run")).Expect(0);
        Assert.Contains("pipeline input: 2 orphans older than 1h", dry.Output);
        Assert.Contains("pipeline model: 1 orphan older than 1h", dry.Output);
        Assert.Contains("input.ckpt-100.0badc0ffee00.manifest", dry.Output);
        Assert.DoesNotContain("0fre5h", dry.Output);
        Assert.Contains("Dry run: nothing was changed.", dry.Output);
        Assert.Equal(before, await TestCheckpoints.SnapshotAsync(store));

        CliResult collected = (await Ckpt.RunAsync("gc", path, "--grace", "90m")).Expect(0);
        Assert.Contains("Deleted 3 orphans (330 B).", collected.Output);
        SortedDictionary<string, byte[]> after = await TestCheckpoints.SnapshotAsync(store);
        Assert.Equal(before.Keys.Except(["input.ckpt-100.0badc0ffee00.train.part", "input.ckpt-100.0badc0ffee00.manifest", "model.ckpt-120.0badc0ffee01.model.part"]), after.Keys);
        (await Ckpt.RunAsync("verify", path, "--all")).Expect(0);

        CliResult fresh = (await Ckpt.RunAsync("gc", path, "--grace", "0", "--pipeline", "input")).Expect(0);
        Assert.Contains("Deleted 1 orphan (7 B).", fresh.Output);
        Assert.Equal(23, (await TestCheckpoints.SnapshotAsync(store)).Count);
    }

    [Fact]
    public async Task Copy_commits_every_chain_and_resumes_after_an_interruption()
    {
        string sourcePath = _temp.Combine("src");
        var source = new LocalInputStateStore(sourcePath);
        await TestCheckpoints.SaveAsync(source, "input", count: 3, parts: ["train", "shuffle"]);
        await TestCheckpoints.SaveAsync(source, "model", count: 3, stateFileKey: "checkpoint");
        string destinationPath = _temp.Combine("deeper", "dst");
        var destination = new LocalInputStateStore(destinationPath);

        CliResult first = (await Ckpt.RunAsync("copy", sourcePath, destinationPath)).Expect(0);
        Assert.Contains("input  step  0  copied", first.Output);
        Assert.Contains("copied                   2 parts, 2.0 KiB", first.Output);
        Assert.Contains("Copied 6 checkpoints (8.8 KiB) of 2 pipelines", first.Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(source, destination, ("input", "checkpoint_input"), ("model", "checkpoint"));

        // The job went on after the first copy: the copy resumes, skipping what is there and sound.
        await TestCheckpoints.SaveAsync(source, "input", count: 2, firstStep: 60, parts: ["train", "shuffle"]);
        CliResult second = (await Ckpt.RunAsync("copy", sourcePath, destinationPath)).Expect(0);
        Assert.Contains("input  step 40  already there, verified", second.Output);
        Assert.Contains("input  step 60  copied", second.Output);
        Assert.Contains("Copied 2 checkpoints (3.9 KiB) of 2 pipelines", second.Output);
        Assert.Contains("6 already there and verified.", second.Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(source, destination, ("input", "checkpoint_input"), ("model", "checkpoint"));

        // A damaged copy is committed again, with everything newer, so the latest stays the source's latest.
        using (var manager = new CheckpointManager(destination, new CheckpointManagerOptions { Chain = "input" }))
        {
            CheckpointReference step20 = (await manager.ListCheckpointsAsync()).Single(r => r.Step == 20);
            await TestCheckpoints.CorruptAsync(destination, (await manager.ReadManifestAsync(step20)).Parts[0].Key);
        }

        CliResult third = (await Ckpt.RunAsync("copy", sourcePath, destinationPath, "--pipeline", "input")).Expect(0);
        Assert.Contains("input  step 20  damaged at the destination", third.Output);
        Assert.Contains("Copied 4 checkpoints", third.Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(source, destination, ("input", "checkpoint_input"));
        (await Ckpt.RunAsync("verify", destinationPath, "--all")).Expect(0);
        Assert.Equal(TestCheckpoints.PartBytes("input", 80, "shuffle", 1000), (await TestCheckpoints.RestoreLatestAsync(destination, "input", ["train", "shuffle"]))["shuffle"]);
    }

    [Fact]
    public async Task Copy_refuses_to_replace_another_runs_checkpoints()
    {
        string sourcePath = _temp.Combine("src");
        await TestCheckpoints.SaveAsync(new LocalInputStateStore(sourcePath), "input", count: 3);
        string destinationPath = _temp.Combine("dst");
        var destination = new LocalInputStateStore(destinationPath);
        await TestCheckpoints.SaveAsync(destination, "input", count: 2, size: 999);
        SortedDictionary<string, byte[]> before = await TestCheckpoints.SnapshotAsync(destination);

        (await Ckpt.RunAsync("copy", sourcePath, destinationPath)).ExpectFailure(CliExitCodes.Conflict, "pipeline input already has a different checkpoint at step 0");
        Assert.Equal(before, await TestCheckpoints.SnapshotAsync(destination));

        string newer = _temp.Combine("newer");
        await TestCheckpoints.SaveAsync(new LocalInputStateStore(newer), "input", count: 1, firstStep: 500);
        (await Ckpt.RunAsync("copy", sourcePath, newer)).ExpectFailure(CliExitCodes.Conflict, "holds checkpoints the source does not (steps 500) that are newer than step 0");
    }

    [Fact]
    public async Task Copy_skips_a_damaged_source_checkpoint_and_names_its_part()
    {
        string sourcePath = _temp.Combine("src");
        var source = new LocalInputStateStore(sourcePath);
        IReadOnlyList<CheckpointReference> references = await TestCheckpoints.SaveAsync(source, "input", count: 3);
        string damaged;
        using (var manager = new CheckpointManager(source, new CheckpointManagerOptions { Chain = "input" }))
        {
            damaged = (await manager.ReadManifestAsync(references.Single(r => r.Step == 20))).Parts[0].Key;
        }

        await TestCheckpoints.CorruptAsync(source, damaged);
        string destinationPath = _temp.Combine("dst");
        CliResult result = await Ckpt.RunAsync("copy", sourcePath, destinationPath);
        result.ExpectFailure(CliExitCodes.Damaged, $"pipeline input, step 20: the source's \"{damaged}\" is damaged");
        Assert.Contains("Copied 2 checkpoints", result.Output);

        var destination = new LocalInputStateStore(destinationPath);
        using var copy = new CheckpointManager(destination, new CheckpointManagerOptions { Chain = "input" });
        Assert.Equal([40L, 0L], (await copy.ListCheckpointsAsync()).Select(r => r.Step));
        Assert.DoesNotContain((await TestCheckpoints.SnapshotAsync(destination)).Keys, k => k.StartsWith("input.ckpt-20.", StringComparison.Ordinal));
        (await Ckpt.RunAsync("verify", destinationPath, "--all")).Expect(0);
    }

    [Fact]
    public async Task An_interrupted_copy_exits_130_and_commits_nothing()
    {
        (string path, _) = await JobAsync();
        string destinationPath = _temp.Combine("dst");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        CliResult result = await Ckpt.RunAsync(["copy", path, destinationPath], environment: null, cancellationToken: cancelled.Token);
        result.ExpectFailure(CliExitCodes.Interrupted, "interrupted");
        Assert.False(File.Exists(Path.Combine(destinationPath, "checkpoint_input")));
    }

    [Fact]
    public async Task Copy_draws_a_progress_bar_when_asked_and_still_reports_every_checkpoint()
    {
        (string path, LocalInputStateStore source) = await JobAsync();
        string destinationPath = _temp.Combine("dst");
        CliResult result = (await Ckpt.RunAsync(["copy", path, destinationPath], environment: null, showProgress: true)).Expect(0);
        Assert.Contains("model  step 80  copied", result.Output);
        Assert.Contains("Copied 8 checkpoints", result.Output);
        await TestCheckpoints.AssertSameCheckpointsAsync(source, new LocalInputStateStore(destinationPath), ("input", "checkpoint_input"), ("model", "checkpoint"));
    }
}
