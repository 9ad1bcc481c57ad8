using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// A chain written by state-file format 1 (the SDK before owner epochs; Fixtures/format-v1, kept as that SDK wrote it)
/// still restores, falls back, prunes, and is claimed and rewritten in the current format on a writer's first start.
/// </summary>
public sealed class FormatVersionOneTests : IDisposable
{
    private static readonly string FixtureDirectory = Path.Combine(RepositoryPaths.Root, "tests", "Hook.Tests", "Fixtures", "format-v1");
    private readonly TempDirectory _dir = new("format-v1");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Stores() => ["InMemory", "Local"];

    [Fact]
    public void TheFixtureStateFile_ReadsAsFormatOne_WithoutOwnerOrManifestCopy()
    {
        CheckpointStateFile state = CheckpointStateFile.Parse(File.ReadAllBytes(Path.Combine(FixtureDirectory, Ckpt.StateFile)), Ckpt.StateFile);

        Assert.Equal(1, state.FormatVersion);
        Assert.Equal(0, state.OwnerEpoch);
        Assert.Null(state.OwnerId);
        Assert.Null(state.LatestManifest);
        Assert.Equal("fixture-host/4242/v1", state.WriterId);
        Assert.Equal([20L, 10], state.Checkpoints.Select(c => c.Step));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task AHookStartingOnAFormatOneChain_ClaimsIt_RestoresTheLatest_AndGoesOnInTheCurrentFormat(string kind)
    {
        IInputStateStore store = await LoadFixtureAsync(kind);
        CheckpointStateFile before = await Ckpt.ReadStateFileAsync(store);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 5, SaveInBackground = false });
        var session = new FakeSession { GlobalStep = 20 };
        var iterator = new CountingIterator();
        session.Iterators.Add("iterator", iterator);

        await hook.BeforeRunAsync(new SessionRunContext(session, Ckpt.Start));

        Assert.Equal(20, hook.RestoredCheckpoint?.Step);
        Assert.Equal(20, iterator.Position);
        CheckpointStateFile claimed = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal(CheckpointStateFile.CurrentFormatVersion, claimed.FormatVersion);
        Assert.Equal((1L, hook.Manager.WriterId), (claimed.OwnerEpoch, claimed.OwnerId));
        Assert.Equal(before.Checkpoints, claimed.Checkpoints);
        Assert.Null(claimed.LatestManifest);

        for (int step = 21; step <= 25; step++)
        {
            await iterator.MoveNextAsync();
            session.GlobalStep = step;
            await hook.AfterRunAsync(new SessionRunContext(session, Ckpt.Start));
        }

        CheckpointStateFile after = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal([25L, 20, 10], after.Checkpoints.Select(c => c.Step));
        Assert.Equal(25, after.LatestManifest?.Step);
        Assert.Equal(1, after.OwnerEpoch);

        // The format-1 manifests are still what a fresh reader falls back to.
        var reader = new CountingIterator();
        using CheckpointManager fresh = Ckpt.Manager(store);
        Assert.Equal(10, (await fresh.RestoreAsync(10, Ckpt.Targets(("iterator", reader)))).Step);
        Assert.Equal(10, reader.Position);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task AFormatOneChain_FallsBackFromADamagedLatestPart(string kind)
    {
        IInputStateStore store = await LoadFixtureAsync(kind);
        string latestPart = (await Ckpt.ReadStateFileAsync(store)).Latest!.ManifestKey.Replace(".manifest", ".iterator.part", StringComparison.Ordinal);
        await store.WriteAsync(latestPart, new MemoryStream(new byte[8]), WriteCondition.None);
        using CheckpointManager starting = Ckpt.Manager(store);
        await starting.ClaimAsync();
        var iterator = new CountingIterator();

        CheckpointReference? restored = await starting.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal(10, restored?.Step);
        Assert.Equal(10, iterator.Position);
        Assert.Equal(1, starting.FallbackCount);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task APruneOfAFormatOneChain_KeepsItUnowned_AndCarriesTheLatestManifest(string kind)
    {
        IInputStateStore store = await LoadFixtureAsync(kind);
        using CheckpointManager pruner = Ckpt.Manager(store);

        IReadOnlyList<CheckpointReference> dropped = await pruner.PruneAsync(1);

        CheckpointStateFile after = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal([10L], dropped.Select(c => c.Step));
        Assert.Equal([20L], after.Checkpoints.Select(c => c.Step));
        Assert.Equal((0L, (string?)null), (after.OwnerEpoch, after.OwnerId));
        Assert.Equal(20, after.LatestManifest?.Step);
        Assert.DoesNotContain(await Ckpt.ListKeysAsync(store), k => k.StartsWith("input.ckpt-10.", StringComparison.Ordinal));
    }

    private async Task<IInputStateStore> LoadFixtureAsync(string kind)
    {
        IInputStateStore store = kind == "Local" ? new LocalInputStateStore(_dir.Combine("store")) : new InMemoryInputStateStore();
        foreach (string file in Directory.EnumerateFiles(FixtureDirectory).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)))
        {
            await using FileStream content = File.OpenRead(file);
            await store.WriteAsync(Path.GetFileName(file), content, WriteCondition.IfAbsent);
        }

        return store;
    }
}
