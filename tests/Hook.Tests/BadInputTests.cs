using System.Text;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>Damaged objects, bad names and bad options: a clear typed error or a logged fallback, and no earlier checkpoint lost.</summary>
public sealed class BadInputTests
{
    public static readonly string OverLong = new('n', 101);

    [Theory]
    [InlineData("manifest-json")]
    [InlineData("manifest-empty")]
    [InlineData("manifest-null")]
    [InlineData("manifest-format-version")]
    [InlineData("manifest-missing")]
    [InlineData("manifest-wrong-step")]
    [InlineData("manifest-unsupported-checksum")]
    [InlineData("part-truncated")]
    [InlineData("part-extended")]
    [InlineData("part-flipped-byte")]
    [InlineData("part-missing")]
    public async Task DamagedLatest_FallsBackToThePreviousCheckpoint_LogsAndCounts(string damage)
    {
        var store = new InMemoryInputStateStore();
        (CheckpointReference older, CheckpointReference latest) = await SaveTwoAsync(store);
        Damage(store, latest, damage);
        using var logs = new ListLoggerProvider();
        using CheckpointManager reader = Ckpt.Manager(store, loggers: logs.CreateFactory());
        var iterator = new CountingIterator();

        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal(older, restored);
        Assert.Equal(100, iterator.Position);
        Assert.Equal(1, reader.FallbackCount);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1003 && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Exception is CheckpointCorruptedException);

        // Nothing was lost: the state file still names both.
        Assert.Equal([200L, 100L], (await reader.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task DamagedSecondPart_FallsBack_AndEveryTargetComesFromTheSameOlderCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1, 1]), ("b", [1, 1])));
            await writer.SaveAsync(2, Ckpt.Bytes(("a", [2, 2]), ("b", [2, 2])));
        }

        CheckpointStateFile state = await Ckpt.ReadStateFileAsync(store);
        CheckpointManifest latest = await Ckpt.ReadManifestAsync(store, state.Latest!.ManifestKey);
        store.Corrupt(latest.Parts.Single(p => p.Name == "b").Key, b => [b[0], 9]);

        (long step, byte[] a, byte[] b) = (await Ckpt.RestoreBlobsAsync(store))!.Value;

        Assert.Equal(1, step);
        Assert.Equal([1, 1], a);
        Assert.Equal([1, 1], b);
    }

    [Fact]
    public async Task ManifestAndStateFileWithUnknownExtraFields_StillRestore()
    {
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        store.Corrupt(latest.ManifestKey, b => Replace(b, "\"formatVersion\": 1,", "\"formatVersion\": 1, \"compression\": \"none\", \"labels\": { \"x\": 1 },"));
        store.Corrupt(Ckpt.StateFile, b => Replace(b, "\"formatVersion\": 1,", "\"formatVersion\": 1, \"note\": \"added by a newer minor version\","));
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal(latest, restored);
        Assert.Equal(200, iterator.Position);
        Assert.Equal(0, reader.FallbackCount);
    }

    [Fact]
    public async Task UnknownManifestFormatVersion_IsReportedAsAFormatVersionError()
    {
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        Damage(store, latest, "manifest-format-version");
        using var logs = new ListLoggerProvider();
        using CheckpointManager reader = Ckpt.Manager(store, loggers: logs.CreateFactory());

        await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", new CountingIterator())));

        CheckpointFormatVersionException ex = Assert.IsType<CheckpointFormatVersionException>(Assert.Single(logs.Entries, e => e.EventId.Id == 1003).Exception);
        Assert.Equal(99, ex.FoundVersion);
        Assert.Equal(CheckpointManifest.CurrentFormatVersion, ex.SupportedVersion);
        Assert.Equal(latest.ManifestKey, ex.Key);
        Assert.Throws<CheckpointFormatVersionException>(() => CheckpointManifest.Parse(store.GetBytes(latest.ManifestKey), latest.ManifestKey));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("empty")]
    [InlineData("format-version")]
    [InlineData("missing")]
    [InlineData("wrong-chain")]
    [InlineData("bad-reference")]
    public async Task DamagedOrMissingStateFile_RebuildsTheViewByListingManifests(string damage)
    {
        var store = new InMemoryInputStateStore();
        (CheckpointReference older, CheckpointReference latest) = await SaveTwoAsync(store);
        switch (damage)
        {
            case "garbage":
                store.Corrupt(Ckpt.StateFile, b => b[..(b.Length / 2)]);
                break;
            case "empty":
                store.Corrupt(Ckpt.StateFile, _ => []);
                break;
            case "format-version":
                store.Corrupt(Ckpt.StateFile, b => Replace(b, "\"formatVersion\": 1", "\"formatVersion\": 7"));
                break;
            case "missing":
                store.Remove(Ckpt.StateFile);
                break;
            case "wrong-chain":
                store.Corrupt(Ckpt.StateFile, b => Replace(b, "\"chain\": \"input\"", "\"chain\": \"other\""));
                break;
            case "bad-reference":
                store.Corrupt(Ckpt.StateFile, b => Replace(b, latest.ManifestKey, "../escape"));
                break;
        }

        using var logs = new ListLoggerProvider();
        using CheckpointManager reader = Ckpt.Manager(store, loggers: logs.CreateFactory());
        var iterator = new CountingIterator();

        IReadOnlyList<CheckpointReference> listed = await reader.ListCheckpointsAsync();
        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal([latest.ManifestKey, older.ManifestKey], listed.Select(c => c.ManifestKey));
        Assert.Equal(latest.ManifestKey, restored!.ManifestKey);
        Assert.Equal(200, iterator.Position);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1001);
    }

    [Fact]
    public async Task DamagedStateFile_TheNextSaveRepairsIt()
    {
        var store = new InMemoryInputStateStore();
        await SaveTwoAsync(store);
        store.Corrupt(Ckpt.StateFile, b => b[..3]);
        using CheckpointManager writer = Ckpt.Manager(store);

        await writer.SaveAsync(300, Ckpt.Bytes(("iterator", BitConverter.GetBytes(300L))));

        Assert.Equal([300L, 200L, 100L], (await Ckpt.ReadStateFileAsync(store)).Checkpoints.Select(c => c.Step));
    }

    [Fact]
    public async Task RebuildingTheView_SkipsDamagedManifests()
    {
        var store = new InMemoryInputStateStore();
        (CheckpointReference older, CheckpointReference latest) = await SaveTwoAsync(store);
        store.Remove(Ckpt.StateFile);
        store.Corrupt(latest.ManifestKey, _ => Encoding.UTF8.GetBytes("{not json"));
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator)));

        Assert.Equal(older.ManifestKey, restored!.ManifestKey);
        Assert.Equal(100, iterator.Position);
    }

    [Fact]
    public async Task EveryRetainedCheckpointDamaged_ThrowsCorrupted_ListingEachCause()
    {
        var store = new InMemoryInputStateStore();
        (CheckpointReference older, CheckpointReference latest) = await SaveTwoAsync(store);
        Damage(store, latest, "part-flipped-byte");
        Damage(store, older, "manifest-json");
        using CheckpointManager reader = Ckpt.Manager(store);

        CheckpointCorruptedException ex = await Assert.ThrowsAsync<CheckpointCorruptedException>(() => reader.RestoreLatestAsync(Ckpt.Targets(("iterator", new CountingIterator()))));

        Assert.Contains("checksum", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(older.ManifestKey, ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, Assert.IsType<AggregateException>(ex.InnerException).InnerExceptions.Count);

        // Nothing was deleted: the objects are still there for an operator to inspect.
        Assert.NotNull(store.GetBytes(latest.ManifestKey));
        Assert.NotNull(store.GetBytes(older.ManifestKey));
    }

    [Fact]
    public async Task RestoreAtAStepThatDoesNotExist_ThrowsNotFound_ListingTheRetainedSteps()
    {
        var store = new InMemoryInputStateStore();
        await SaveTwoAsync(store);
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        CheckpointNotFoundException ex = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => reader.RestoreAsync(150, Ckpt.Targets(("iterator", iterator))));

        Assert.Equal("input", ex.Chain);
        Assert.Contains("150", ex.Message, StringComparison.Ordinal);
        Assert.Contains("200, 100", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, iterator.RestoreCount);
    }

    [Fact]
    public async Task RestoreAtADamagedStep_ThrowsCorrupted_WithoutFallingBackToAnotherStep()
    {
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        Damage(store, latest, "part-truncated");
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();

        await Assert.ThrowsAsync<CheckpointCorruptedException>(() => reader.RestoreAsync(200, Ckpt.Targets(("iterator", iterator))));

        Assert.Equal(0, iterator.RestoreCount);
        Assert.Equal(0, iterator.Position);
    }

    [Fact]
    public async Task RestoreAtADamagedStep_DoesNotCountOrLogAFallback()
    {
        // There is no fallback for a restore at a given step, so FallbackCount ("the number of times a restore fell back
        // from a damaged checkpoint to an older one") must not move and no "falling back" warning may be logged.
        var store = new InMemoryInputStateStore();
        (_, CheckpointReference latest) = await SaveTwoAsync(store);
        Damage(store, latest, "part-truncated");
        using var logs = new ListLoggerProvider();
        using CheckpointManager reader = Ckpt.Manager(store, loggers: logs.CreateFactory());

        await Assert.ThrowsAsync<CheckpointCorruptedException>(() => reader.RestoreAsync(200, Ckpt.Targets(("iterator", new CountingIterator()))));

        Assert.Equal(0, reader.FallbackCount);
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 1003);
    }

    [Theory]
    [InlineData("extra")]
    [InlineData("missing")]
    [InlineData("renamed")]
    public async Task CheckpointHoldingOtherIteratorNames_ThrowsMismatch_WithoutFallback(string difference)
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("iterator", BitConverter.GetBytes(1L)), ("shuffle", [1])));
            await writer.SaveAsync(2, Ckpt.Bytes(("iterator", BitConverter.GetBytes(2L)), ("shuffle", [2])));
        }

        KeyValuePair<string, ICheckpointable>[] targets = difference switch
        {
            "extra" => Ckpt.Targets(("iterator", new CountingIterator())),
            "missing" => Ckpt.Targets(("iterator", new CountingIterator()), ("shuffle", new BlobState([])), ("prefetch", new BlobState([]))),
            _ => Ckpt.Targets(("iterator", new CountingIterator()), ("shuffle_buffer", new BlobState([]))),
        };
        using CheckpointManager reader = Ckpt.Manager(store);

        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => reader.RestoreLatestAsync(targets));

        Assert.StartsWith("input.ckpt-2.", ex.Key, StringComparison.Ordinal);
        Assert.Contains(difference == "missing" ? "prefetch" : "shuffle", ex.Mismatch, StringComparison.Ordinal);
        Assert.Equal(0, reader.FallbackCount);
    }

    [Fact]
    public async Task RestoreIntoAnIteratorThatHasYielded_ThrowsPipelineAlreadyStarted_NotAFallback()
    {
        var store = new InMemoryInputStateStore();
        await SaveTwoAsync(store);
        using CheckpointManager reader = Ckpt.Manager(store);
        var iterator = new CountingIterator();
        await iterator.TakeAsync(2);

        PipelineAlreadyStartedException ex = await Assert.ThrowsAsync<PipelineAlreadyStartedException>(() => reader.RestoreLatestAsync(Ckpt.Targets(("iterator", iterator))));

        Assert.Equal("iterator", ex.Name);
        Assert.Equal(0, reader.FallbackCount);
        Assert.Equal(2, iterator.Position);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../b")]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("over-long")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData(".hidden")]
    [InlineData("a..b")]
    [InlineData("back\\slash")]
    [InlineData("tab\there")]
    [InlineData("ünïcode")]
    public void BadIteratorNames_AreRejectedAtRegistration(string name)
    {
        name = name == "over-long" ? OverLong : name;
        var iterators = new CheckpointableCollection();

        ArgumentException ex = Assert.Throws<ArgumentException>(() => iterators.Add(name, new CountingIterator()));

        Assert.Equal("name", ex.ParamName);
        Assert.Empty(iterators);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../b")]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("over-long")]
    public async Task BadIteratorNames_AreRejectedBySaveAndRestore(string name)
    {
        name = name == "over-long" ? OverLong : name;
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store);

        await Assert.ThrowsAsync<ArgumentException>(() => manager.SaveAsync(1, Ckpt.Bytes((name, [1]))));
        await Assert.ThrowsAsync<ArgumentException>(() => manager.RestoreLatestAsync(Ckpt.Targets((name, new BlobState([])))));
        Assert.Empty(store.Keys);
    }

    [Fact]
    public void IteratorNames_AtTheLengthLimit_AndDuplicatesIgnoringCase()
    {
        var iterators = new CheckpointableCollection();
        iterators.Add(new string('n', 100), new CountingIterator());
        iterators.Add("Train-iterator_1.v2", new CountingIterator());

        Assert.Throws<ArgumentException>(() => iterators.Add("train-ITERATOR_1.v2", new CountingIterator()));
        Assert.Throws<ArgumentNullException>(() => iterators.Add("x", null!));
        Assert.Equal(2, iterators.Count);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../b")]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("over-long")]
    [InlineData("model.ckpt")]
    [InlineData("-leading-dash")]
    public void BadChainNames_AreRejectedAsOptionErrors(string chain)
    {
        chain = chain == "over-long" ? OverLong : chain;

        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => Ckpt.Manager(new InMemoryInputStateStore(), chain: chain));

        Assert.Equal("Chain", ex.OptionName);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../b")]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("over-long")]
    public void BadTaskTypes_WithSeveralReplicas_AreRejectedAsOptionErrors(string taskType)
    {
        taskType = taskType == "over-long" ? OverLong : taskType;
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, NumWorkerReplicas = 2, TaskType = taskType };

        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointInputPipelineHook(new InMemoryInputStateStore(), options));

        Assert.Equal("TaskType", ex.OptionName);
    }

    [Fact]
    public void BadStateFileKey_IsAnOptionError()
    {
        var options = new CheckpointManagerOptions { StateFileKey = "../checkpoint" };

        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new CheckpointManager(new InMemoryInputStateStore(), options));

        Assert.Equal("StateFileKey", ex.OptionName);
    }

    [Fact]
    public async Task TruncatedPart_IsNamedInTheError()
    {
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("iterator", BitConverter.GetBytes(1L))));
        }

        string part = Assert.Single(store.Keys, k => k.EndsWith(".part", StringComparison.Ordinal));
        store.Corrupt(part, b => b[..5]);
        using CheckpointManager reader = Ckpt.Manager(store);

        CheckpointCorruptedException ex = await Assert.ThrowsAsync<CheckpointCorruptedException>(() => reader.RestoreLatestAsync(Ckpt.Targets(("iterator", new CountingIterator()))));

        Assert.Contains(part, ex.Message, StringComparison.Ordinal);
    }

    private static async Task<(CheckpointReference Older, CheckpointReference Latest)> SaveTwoAsync(InMemoryInputStateStore store)
    {
        using CheckpointManager writer = Ckpt.Manager(store);
        CheckpointReference older = await writer.SaveAsync(100, Ckpt.Bytes(("iterator", BitConverter.GetBytes(100L))));
        CheckpointReference latest = await writer.SaveAsync(200, Ckpt.Bytes(("iterator", BitConverter.GetBytes(200L))));
        return (older, latest);
    }

    private static void Damage(InMemoryInputStateStore store, CheckpointReference checkpoint, string damage)
    {
        if (damage.StartsWith("manifest-", StringComparison.Ordinal))
        {
            // Since state-file format 2 a restore reads the latest manifest from the state file's copy, not the object
            // (InlineManifestTests); the object is read, and its damage met, when the state file carries no copy, as
            // one written by format 1 does.
            DropManifestCopy(store, checkpoint);
        }

        string manifestKey = checkpoint.ManifestKey;
        string partKey = CheckpointManifest.Parse(store.GetBytes(manifestKey), manifestKey).Parts[0].Key;
        bool done = damage switch
        {
            "manifest-json" => store.Corrupt(manifestKey, b => b[..(b.Length - 10)]),
            "manifest-empty" => store.Corrupt(manifestKey, _ => []),
            "manifest-null" => store.Corrupt(manifestKey, _ => Encoding.UTF8.GetBytes("null")),
            "manifest-format-version" => store.Corrupt(manifestKey, b => Replace(b, "\"formatVersion\": 1", "\"formatVersion\": 99")),
            "manifest-missing" => store.Remove(manifestKey),
            "manifest-wrong-step" => store.Corrupt(manifestKey, b => Replace(b, "\"step\": 200", "\"step\": 201")),
            "manifest-unsupported-checksum" => store.Corrupt(manifestKey, b => Replace(b, "\"xxh3:", "\"crc32:")),
            "part-truncated" => store.Corrupt(partKey, b => b[..^1]),
            "part-extended" => store.Corrupt(partKey, b => [.. b, 0]),
            "part-flipped-byte" => store.Corrupt(partKey, b =>
            {
                b[3] ^= 0x10;
                return b;
            }),
            "part-missing" => store.Remove(partKey),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        Assert.True(done);
    }

    private static void DropManifestCopy(InMemoryInputStateStore store, CheckpointReference checkpoint)
    {
        CheckpointStateFile state = CheckpointStateFile.Parse(store.GetBytes(Ckpt.StateFile), Ckpt.StateFile);
        if (state.Latest == checkpoint)
        {
            Assert.True(store.Corrupt(Ckpt.StateFile, _ => (state with { LatestManifest = null }).ToUtf8Json()));
        }
    }

    private static byte[] Replace(byte[] json, string from, string to)
    {
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains(from, text, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }
}
