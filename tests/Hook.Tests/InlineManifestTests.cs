using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// The state file carries the latest checkpoint's manifest: a restore reads the state file and the parts, the manifest
/// object stays for listing and rebuilding, and every disagreement between the two is a typed damage.
/// </summary>
public sealed class InlineManifestTests
{
    [Fact]
    public async Task ARestoreOfTheLatest_ReadsTheStateFileAndTheParts_NotTheManifest()
    {
        var inner = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(inner);
        var store = new FaultInjectingInputStateStore(inner);
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal(latest, restored);
        Assert.Equal(200, iterator.Position);
        Assert.Equal([Ckpt.StateFile, latest.ManifestKey.Replace(".manifest", ".iterator.part", StringComparison.Ordinal)], store.Calls.Select(c => c.Key));
        Assert.All(store.Calls, c => Assert.Equal(StoreOperation.Read, c.Operation));
    }

    [Fact]
    public async Task TheCopy_IsTheLatestManifest_AndEachCommitReplacesIt()
    {
        var store = new InMemoryInputStateStore();
        (CheckpointReference older, CheckpointReference latest) = await SaveTwoAsync(store);

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);

        Assert.Equal(CheckpointStateFile.CurrentFormatVersion, state.FormatVersion);
        Assert.Equal(await Ckpt.ReadManifestAsync(store, latest.ManifestKey), state.LatestManifest, new ManifestComparer());
        Assert.NotEqual(older.ManifestKey, latest.ManifestKey);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(System.Text.Encoding.UTF8.GetString(store.GetBytes(Ckpt.StateFile)!), "\"saveId\""));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("missing")]
    [InlineData("wrong-step")]
    public async Task ADamagedManifestObjectOfTheLatest_StillRestoresFromTheCopy_ButVerifyReportsIt(string damage)
    {
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        _ = damage switch
        {
            "garbage" => store.Corrupt(latest.ManifestKey, b => b[..20]),
            "missing" => store.Remove(latest.ManifestKey),
            _ => store.Corrupt(latest.ManifestKey, b => Ckpt.Text(System.Text.Encoding.UTF8.GetString(b).Replace("\"step\": 200", "\"step\": 201", StringComparison.Ordinal))),
        };
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));
        CheckpointCorruptedException verify = await Assert.ThrowsAsync<CheckpointCorruptedException>(() => reader.VerifyAsync(latest));

        Assert.Equal(latest, restored);
        Assert.Equal(200, iterator.Position);
        Assert.Equal(0, reader.FallbackCount);
        Assert.Equal(latest.ManifestKey, verify.Key);
    }

    [Fact]
    public async Task AManifestObjectThatDiffersFromTheCopy_IsReportedByVerify()
    {
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        store.Corrupt(latest.ManifestKey, b => Ckpt.Text(System.Text.Encoding.UTF8.GetString(b).Replace("\"length\": 8", "\"length\": 9", StringComparison.Ordinal)));
        using CheckpointManager reader = Ckpt.Manager(store);
        await reader.ListCheckpointsAsync();

        CheckpointCorruptedException ex = await Assert.ThrowsAsync<CheckpointCorruptedException>(() => reader.VerifyAsync(latest));

        Assert.Contains("differs from the copy", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("another-checkpoints-copy")]
    [InlineData("copy-without-parts")]
    [InlineData("copy-of-a-newer-format")]
    [InlineData("negative-epoch")]
    [InlineData("epoch-without-owner")]
    public async Task AStateFileWithABadCopyOrOwner_IsDamaged_TheViewIsRebuilt_AndTheNextClaimRepairsIt(string damage)
    {
        var store = new InMemoryInputStateStore();
        (CheckpointReference older, CheckpointReference latest) = await SaveTwoAsync(store);
        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        CheckpointManifest olderManifest = await Ckpt.ReadManifestAsync(store, older.ManifestKey);
        CheckpointStateFile bad = damage switch
        {
            "another-checkpoints-copy" => state with { LatestManifest = olderManifest },
            "copy-without-parts" => state with { LatestManifest = state.LatestManifest! with { Parts = null! } },
            "copy-of-a-newer-format" => state with { LatestManifest = state.LatestManifest! with { FormatVersion = 5 } },
            "negative-epoch" => state with { OwnerEpoch = -1 },
            _ => state with { OwnerEpoch = 4, OwnerId = null },
        };
        store.Corrupt(Ckpt.StateFile, _ => bad.ToUtf8Json());
        Exception parse = Assert.ThrowsAny<CheckpointCorruptedException>(() => CheckpointStateFile.Parse(store.GetBytes(Ckpt.StateFile), Ckpt.StateFile));
        Assert.Equal(damage == "copy-of-a-newer-format", parse is CheckpointFormatVersionException);
        using var logs = new ListLoggerProvider();
        using CheckpointManager reader = Ckpt.Manager(store, loggers: logs.CreateFactory());
        var iterator = new CountingIterator();

        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal(latest, restored);
        Assert.Equal(200, iterator.Position);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1001 && e.Exception is CheckpointCorruptedException);
        if (damage == "copy-of-a-newer-format")
        {
            // A state file carrying what a newer SDK wrote is left alone.
            await Assert.ThrowsAsync<CheckpointFormatVersionException>(() => reader.ClaimAsync());
            return;
        }

        await reader.ClaimAsync();
        CheckpointStateFile repaired = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal([200L, 100], repaired.Checkpoints.Select(c => c.Step));
        Assert.Equal(200, repaired.LatestManifest!.Step);
        Assert.Equal(1, repaired.OwnerEpoch);
    }

    [Fact]
    public async Task APruneByAnotherManager_CarriesTheLatestManifestOn()
    {
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        CheckpointStateFile before = await Ckpt.ReadStateFileAsync(store);
        store.Corrupt(Ckpt.StateFile, _ => (before with { LatestManifest = null }).ToUtf8Json());

        using CheckpointManager pruner = Ckpt.Manager(store);
        await pruner.PruneAsync(1);

        CheckpointStateFile after = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal([200L], after.Checkpoints.Select(c => c.Step));
        Assert.Equal(await Ckpt.ReadManifestAsync(store, latest.ManifestKey), after.LatestManifest, new ManifestComparer());
        Assert.Equal((before.OwnerEpoch, before.OwnerId), (after.OwnerEpoch, after.OwnerId));
        Assert.NotEqual(before.WriterId, after.WriterId);
    }

    private static async Task<(CheckpointReference Older, CheckpointReference Latest)> SaveTwoAsync(InMemoryInputStateStore store)
    {
        using CheckpointManager writer = Ckpt.Manager(store);
        CheckpointReference older = await writer.SaveAsync(100, Ckpt.Bytes(("iterator", BitConverter.GetBytes(100L))));
        CheckpointReference latest = await writer.SaveAsync(200, Ckpt.Bytes(("iterator", BitConverter.GetBytes(200L))));
        return (older, latest);
    }

    private sealed class ManifestComparer : IEqualityComparer<CheckpointManifest?>
    {
        public bool Equals(CheckpointManifest? x, CheckpointManifest? y) =>
            x is not null && y is not null
            && (x.FormatVersion, x.Chain, x.Step, x.CreatedAt, x.WriterId, x.SaveId) == (y.FormatVersion, y.Chain, y.Step, y.CreatedAt, y.WriterId, y.SaveId)
            && x.Parts.SequenceEqual(y.Parts);

        public int GetHashCode(CheckpointManifest? obj) => obj?.SaveId.GetHashCode(StringComparison.Ordinal) ?? 0;
    }
}
