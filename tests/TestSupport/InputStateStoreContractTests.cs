using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>
/// The contract every <see cref="IInputStateStore"/> passes, written once and run by a subclass per provider against
/// a real store or emulator. Only the public store API is used, and every test works under its own unique key prefix,
/// so a bucket or container shared between tests (and between runs) is fine.
/// </summary>
public abstract class InputStateStoreContractTests
{
    private const int MiB = 1024 * 1024;

    /// <summary>Creates the store under test (or returns a shared one); called once per test.</summary>
    protected abstract Task<IInputStateStore> CreateStoreAsync();

    /// <summary>Gets the size of the large object test: 64 MiB unless overridden.</summary>
    protected virtual long LargeObjectSize => 64L * MiB;

    /// <summary>Gets a size just above the provider's single-request upload limit (multipart / block threshold); 17 MiB unless overridden.</summary>
    protected virtual long AboveMultipartThreshold => 17L * MiB;

    /// <summary>
    /// Gets the sizes of the seekable content (of known length) the seekable tests write: 1 MiB + 3 and
    /// <see cref="AboveMultipartThreshold"/> unless overridden. A provider that treats content of known length
    /// differently adds sizes at and just above its thresholds for it.
    /// </summary>
    protected virtual IReadOnlyList<long> SeekableContentSizes => [MiB + 3, AboveMultipartThreshold];

    /// <summary>Gets the number of keys of the paging test: more than the 1,000 keys a cloud listing page holds.</summary>
    protected virtual int PagingKeyCount => 1100;

    /// <summary>Gets the number of writes in flight while the paging test writes its keys.</summary>
    protected virtual int WriteParallelism => 16;

    /// <summary>Gets the number of writers racing in the concurrency tests.</summary>
    protected virtual int RacingWriters => 8;

    /// <summary>Returns invalid keys, each rejected with <see cref="ArgumentException"/>.</summary>
    public static TheoryData<string> InvalidKeys() =>
    [
        string.Empty,
        "/a",
        "a/",
        "a//b",
        "../x",
        "a/../../b",
        "./a",
        "a/./b",
        "a\\b",
        "a\u0001b",
        "tab\there",
        new string('k', StoreKey.MaxKeyBytes + 1),
        new string('é', (StoreKey.MaxKeyBytes / 2) + 1),
    ];

    [Fact]
    public async Task CreateOnly_WhenAbsent_CreatesTheObject()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object.bin";

        StoreVersion version = await store.WriteAsync(key, Content("first"), WriteCondition.IfAbsent);

        Assert.False(string.IsNullOrEmpty(version.Value));
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal("first", await ReadTextAsync(read.Content));
        Assert.Equal(version, read.Info.Version);
        Assert.Equal(key, read.Info.Key);
    }

    [Fact]
    public async Task CreateOnly_WhenPresent_ThrowsConflictAndKeepsTheContent()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object.bin";
        StoreVersion version = await store.WriteAsync(key, Content("first"), WriteCondition.IfAbsent);

        var conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Content("second"), WriteCondition.IfAbsent));

        Assert.Equal(key, conflict.Key);
        Assert.Equal(WriteConditionKind.IfAbsent, conflict.Condition.Kind);
        Assert.Equal(store.ProviderName, conflict.ProviderName);
        Assert.Equal(("first", version), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task CompareAndSwap_WithTheCurrentVersion_ReplacesAndReturnsANewVersion()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "state";
        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);

        StoreVersion second = await store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(first));
        StoreVersion third = await store.WriteAsync(key, Content("three"), WriteCondition.IfVersionMatches(second));

        Assert.NotEqual(first, second);
        Assert.NotEqual(second, third);
        Assert.NotEqual(first, third);
        Assert.Equal(("three", third), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task CompareAndSwap_WithAStaleVersion_ThrowsConflictAndKeepsTheContent()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "state";
        StoreVersion stale = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        StoreVersion current = await store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(stale));

        var conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Content("three"), WriteCondition.IfVersionMatches(stale)));

        Assert.Equal(WriteConditionKind.IfVersionMatches, conflict.Condition.Kind);
        Assert.Equal(stale, conflict.Condition.Version);
        Assert.Equal(("two", current), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task CompareAndSwap_OnAMissingKey_ThrowsConflictAndCreatesNothing()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string key = prefix + "state";
        StoreVersion elsewhere = await store.WriteAsync(prefix + "other", Content("x"), WriteCondition.IfAbsent);

        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Content("one"), WriteCondition.IfVersionMatches(elsewhere)));

        Assert.Null(await store.ReadAsync(key));
        Assert.Equal([prefix + "other"], await ListKeysAsync(store, prefix));
    }

    [Fact]
    public async Task CompareAndSwap_AfterADelete_ThrowsConflict()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "state";
        StoreVersion version = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        Assert.True(await store.DeleteAsync(key));

        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(version)));

        Assert.Null(await store.ReadAsync(key));
    }

    [Fact]
    public async Task UnconditionalWrite_CreatesAndOverwrites()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";

        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.None);
        Assert.Equal(("one", first), await ReadTextAndVersionAsync(store, key));

        StoreVersion second = await store.WriteAsync(key, Content("two, longer"), WriteCondition.None);
        Assert.NotEqual(first, second);
        Assert.Equal(("two, longer", second), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task CreateOnly_AfterADelete_Succeeds()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";
        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        Assert.True(await store.DeleteAsync(key, first));

        StoreVersion second = await store.WriteAsync(key, Content("two"), WriteCondition.IfAbsent);

        Assert.Equal(("two", second), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task Read_OfAMissingKey_ReturnsNull()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        await store.WriteAsync(prefix + "present/object", Content("x"), WriteCondition.IfAbsent);

        Assert.Null(await store.ReadAsync(prefix + "missing"));
        Assert.Null(await store.ReadAsync(prefix + "missing", offset: 10));
        Assert.Null(await store.ReadAsync(prefix + "present/missing"));
        Assert.Null(await store.ReadAsync(prefix + "present")); // a "directory" of other keys is no object
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4000)]
    [InlineData(9999)]
    [InlineData(10000)]
    [InlineData(10001)]
    [InlineData(1_000_000)]
    public async Task Read_FromAnOffset_ReturnsTheRestOfTheObject(long offset)
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";
        byte[] bytes = GeneratedStream.Bytes(10000, seed: 3);
        StoreVersion version = await store.WriteAsync(key, new MemoryStream(bytes), WriteCondition.IfAbsent);

        await using StoreReadResult? read = await store.ReadAsync(key, offset);

        Assert.NotNull(read);
        Assert.Equal(offset, read.Offset);
        Assert.Equal(bytes.Length, read.Info.Length);
        Assert.Equal(version, read.Info.Version);
        Assert.Equal(Math.Max(0, bytes.Length - offset), read.RemainingLength);
        byte[] expected = bytes.AsSpan((int)Math.Min(offset, bytes.Length)).ToArray();
        Assert.Equal(expected, await ReadBytesAsync(read.Content));
    }

    [Fact]
    public async Task Read_WithANegativeOffset_ThrowsArgumentOutOfRange()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";
        await store.WriteAsync(key, Content("x"), WriteCondition.IfAbsent);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ReadAsync(key, -1));
    }

    [Fact]
    public async Task ReadInfo_MatchesWhatWriteAndListReport()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string key = prefix + "object";
        StoreVersion written = await store.WriteAsync(key, new MemoryStream(GeneratedStream.Bytes(12345, seed: 1)), WriteCondition.IfAbsent);

        StoreObjectInfo listed = Assert.Single(await ListAsync(store, prefix));
        await using StoreReadResult? read = await store.ReadAsync(key);

        Assert.NotNull(read);
        Assert.Equal(key, listed.Key);
        Assert.Equal(12345, listed.Length);
        Assert.Equal(written, listed.Version);
        Assert.Equal(key, read.Info.Key);
        Assert.Equal(12345, read.Info.Length);
        Assert.Equal(written, read.Info.Version);
        // Some services report list times and read times at different precisions (milliseconds vs. seconds).
        Assert.InRange((listed.LastModified - read.Info.LastModified).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Assert.InRange(listed.LastModified, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1));
    }

    [Fact]
    public async Task List_ByPrefix_ReturnsExactlyTheKeysStartingWithIt()
    {
        IInputStateStore store = await CreateStoreAsync();
        string p = NewPrefix();
        string[] keys = ["a/b/1", "a/b/sub/2", "a/bc/3", "a/bcd", "a/x/4", "ab/5", "b"];
        foreach (string key in keys)
        {
            await store.WriteAsync(p + key, Content(key), WriteCondition.IfAbsent);
        }

        Assert.Equal(["a/b/1", "a/b/sub/2"], await ListRelativeAsync(store, p, "a/b/"));
        Assert.Equal(["a/b/1", "a/b/sub/2", "a/bc/3", "a/bcd"], await ListRelativeAsync(store, p, "a/b"));
        Assert.Equal(["a/bc/3", "a/bcd"], await ListRelativeAsync(store, p, "a/bc"));
        Assert.Equal(["a/b/sub/2"], await ListRelativeAsync(store, p, "a/b/s"));
        Assert.Equal(["a/b/1", "a/b/sub/2", "a/bc/3", "a/bcd", "a/x/4"], await ListRelativeAsync(store, p, "a/"));
        Assert.Equal(["a/b/1", "a/b/sub/2", "a/bc/3", "a/bcd", "a/x/4", "ab/5"], await ListRelativeAsync(store, p, "a"));
        Assert.Equal(keys, await ListRelativeAsync(store, p, string.Empty));
        Assert.Equal(["a/b/1"], await ListRelativeAsync(store, p, "a/b/1"));
        Assert.Empty(await ListRelativeAsync(store, p, "a/b/1/"));
        Assert.Empty(await ListRelativeAsync(store, p, "zz"));
        Assert.Empty(await ListRelativeAsync(store, p, "a/zz/"));
    }

    [Fact]
    public async Task List_ReportsLengthsAndVersions()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        var written = new Dictionary<string, (long Length, StoreVersion Version)>();
        for (int i = 0; i < 5; i++)
        {
            string key = $"{prefix}obj-{i}";
            StoreVersion version = await store.WriteAsync(key, new MemoryStream(GeneratedStream.Bytes(i * 1000, seed: i)), WriteCondition.IfAbsent);
            written[key] = (i * 1000, version);
        }

        List<StoreObjectInfo> listed = await ListAsync(store, prefix);

        Assert.Equal(written.Count, listed.Count);
        foreach (StoreObjectInfo info in listed)
        {
            Assert.Equal(written[info.Key], (info.Length, info.Version));
        }
    }

    [Fact]
    public async Task List_PagesAcrossMoreThanAThousandKeys()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string[] keys = Enumerable.Range(0, PagingKeyCount).Select(i => $"{prefix}many/k{i:D5}").ToArray();
        await Parallel.ForEachAsync(
            keys,
            new ParallelOptions { MaxDegreeOfParallelism = WriteParallelism },
            async (key, cancellationToken) => await store.WriteAsync(key, Content(key), WriteCondition.IfAbsent, cancellationToken));
        await store.WriteAsync(prefix + "manyX", Content("sibling"), WriteCondition.IfAbsent);

        List<StoreObjectInfo> listed = await ListAsync(store, prefix + "many/");

        Assert.Equal(keys, listed.Select(info => info.Key).Order(StringComparer.Ordinal));
        Assert.All(listed, info => Assert.Equal(Encoding.UTF8.GetByteCount(info.Key), info.Length));
    }

    [Fact]
    public async Task Delete_Unconditionally_RemovesTheObject()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        await store.WriteAsync(prefix + "keep", Content("keep"), WriteCondition.IfAbsent);
        await store.WriteAsync(prefix + "dir/gone", Content("gone"), WriteCondition.IfAbsent);

        Assert.True(await store.DeleteAsync(prefix + "dir/gone"));

        Assert.Null(await store.ReadAsync(prefix + "dir/gone"));
        Assert.Equal([prefix + "keep"], await ListKeysAsync(store, prefix));
        Assert.False(await store.DeleteAsync(prefix + "dir/gone"));
    }

    [Fact]
    public async Task Delete_OfAMissingKey_ReturnsFalse()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();

        Assert.False(await store.DeleteAsync(prefix + "missing"));
        Assert.False(await store.DeleteAsync(prefix + "missing", new StoreVersion("1")));
        Assert.Empty(await ListAsync(store, prefix));
    }

    [Fact]
    public async Task Delete_WithTheCurrentVersion_RemovesTheObject()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";
        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        StoreVersion second = await store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(first));

        Assert.True(await store.DeleteAsync(key, second));

        Assert.Null(await store.ReadAsync(key));
    }

    [Fact]
    public async Task Delete_WithAStaleVersion_ThrowsConflictAndKeepsTheObject()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";
        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        StoreVersion second = await store.WriteAsync(key, Content("two"), WriteCondition.None);

        var conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.DeleteAsync(key, first));

        Assert.Equal(key, conflict.Key);
        Assert.Equal(WriteConditionKind.IfVersionMatches, conflict.Condition.Kind);
        Assert.Equal(("two", second), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task LargeObject_RoundTripsIntact()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "large.bin";
        long size = LargeObjectSize;

        StoreVersion version;
        using (var content = new GeneratedStream(size, seed: 11))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        await using (StoreReadResult? read = await store.ReadAsync(key))
        {
            Assert.NotNull(read);
            Assert.Equal(size, read.Info.Length);
            Assert.Equal(version, read.Info.Version);
            Assert.Equal(GeneratedStream.Hash(size, seed: 11), await SHA256.HashDataAsync(read.Content));
        }

        long offset = size - MiB - 3;
        await using (StoreReadResult? tail = await store.ReadAsync(key, offset))
        {
            Assert.NotNull(tail);
            Assert.Equal(MiB + 3, tail.RemainingLength);
            Assert.Equal(GeneratedStream.Hash(size, seed: 11, offset), await SHA256.HashDataAsync(tail.Content));
        }
    }

    [Fact]
    public async Task ObjectAboveTheMultipartThreshold_FromANonSeekableStream_RoundTripsIntact()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string key = prefix + "multipart.bin";
        long size = AboveMultipartThreshold;

        StoreVersion version;
        using (var content = new GeneratedStream(size, seed: 12, seekable: false))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        await using (StoreReadResult? read = await store.ReadAsync(key))
        {
            Assert.NotNull(read);
            Assert.Equal(size, read.Info.Length);
            Assert.Equal(version, read.Info.Version);
            Assert.Equal(GeneratedStream.Hash(size, seed: 12), await SHA256.HashDataAsync(read.Content));
        }

        StoreObjectInfo listed = Assert.Single(await ListAsync(store, prefix));
        Assert.Equal((size, version), (listed.Length, listed.Version));
    }

    [Fact]
    public async Task SeekableContent_OfEachSize_IsWrittenFromItsCurrentPositionAndRoundTrips()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        const int Skipped = 5;
        foreach (long size in SeekableContentSizes)
        {
            string key = prefix + $"seekable-{size}.bin";
            int seed = (int)(size % 1000);

            StoreVersion version;
            using (var content = new GeneratedStream(size + Skipped, seed) { Position = Skipped })
            {
                version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
            }

            await using StoreReadResult? read = await store.ReadAsync(key);
            Assert.NotNull(read);
            Assert.Equal((size, version), (read.Info.Length, read.Info.Version));
            Assert.Equal(GeneratedStream.Hash(size + Skipped, seed, Skipped), await SHA256.HashDataAsync(read.Content));
        }

        List<StoreObjectInfo> listed = await ListAsync(store, prefix);
        Assert.Equal(SeekableContentSizes.Order(), listed.Select(info => info.Length).Order());
    }

    [Fact]
    public async Task SeekableContent_OfEachSize_HonoursTheWriteConditions()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        foreach (long size in SeekableContentSizes)
        {
            string key = prefix + $"state-{size}";
            StoreVersion first = await store.WriteAsync(key, Content("first"), WriteCondition.IfAbsent);
            StoreVersion current = await store.WriteAsync(key, Content("current"), WriteCondition.IfVersionMatches(first));

            using (var content = new GeneratedStream(size, seed: 31))
            {
                await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, content, WriteCondition.IfAbsent));
            }

            using (var content = new GeneratedStream(size, seed: 32))
            {
                await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, content, WriteCondition.IfVersionMatches(first)));
            }

            using (var content = new GeneratedStream(size, seed: 33))
            {
                await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(prefix + $"missing-{size}", content, WriteCondition.IfVersionMatches(current)));
            }

            Assert.Equal(("current", current), await ReadTextAndVersionAsync(store, key));
            Assert.Null(await store.ReadAsync(prefix + $"missing-{size}"));

            StoreVersion replaced;
            using (var content = new GeneratedStream(size, seed: 34))
            {
                replaced = await store.WriteAsync(key, content, WriteCondition.IfVersionMatches(current));
            }

            Assert.NotEqual(current, replaced);
            await using StoreReadResult? read = await store.ReadAsync(key);
            Assert.NotNull(read);
            Assert.Equal((size, replaced), (read.Info.Length, read.Info.Version));
            Assert.Equal(GeneratedStream.Hash(size, seed: 34), await SHA256.HashDataAsync(read.Content));
        }
    }

    [Fact]
    public async Task KeysWithSpacesAndUnicode_RoundTripAndList()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string[] keys = [prefix + "dir with space/ünïcødé 名前.bin", prefix + "emoji 😀/a+b=c&d (1).txt", prefix + "dir with space/x"];

        foreach (string key in keys)
        {
            await store.WriteAsync(key, Content("content of " + key), WriteCondition.IfAbsent);
        }

        foreach (string key in keys)
        {
            Assert.Equal("content of " + key, (await ReadTextAndVersionAsync(store, key)).Text);
        }

        Assert.Equal(keys.Order(StringComparer.Ordinal), await ListKeysAsync(store, prefix));
        Assert.Equal(new[] { keys[0], keys[2] }.Order(StringComparer.Ordinal), await ListKeysAsync(store, prefix + "dir with space/"));
        Assert.Equal([keys[0]], await ListKeysAsync(store, prefix + "dir with space/ü"));
        Assert.True(await store.DeleteAsync(keys[0]));
        Assert.Null(await store.ReadAsync(keys[0]));
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task InvalidKeys_AreRejected(string key)
    {
        IInputStateStore store = await CreateStoreAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.WriteAsync(key, Content("x"), WriteCondition.None));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.WriteAsync(key, Content("x"), WriteCondition.IfAbsent));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.ReadAsync(key));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.DeleteAsync(key));
    }

    [Fact]
    public async Task NullArguments_AreRejected()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";

        await Assert.ThrowsAsync<ArgumentNullException>(() => store.WriteAsync(null!, Content("x"), WriteCondition.None));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.WriteAsync(key, null!, WriteCondition.None));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.ReadAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.DeleteAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await ListAsync(store, null!));
        Assert.Null(await store.ReadAsync(key));
    }

    [Fact]
    public async Task RacingCreateOnlyWriters_ExactlyOneWins()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "contended";
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<StoreVersion>[] writers = Enumerable.Range(0, RacingWriters)
            .Select(i => Task.Run(async () =>
            {
                await start.Task;
                return await store.WriteAsync(key, Content($"writer {i}"), WriteCondition.IfAbsent);
            }))
            .ToArray();

        start.SetResult();
        (int winner, StoreVersion version) = await SingleWinnerAsync(writers);

        Assert.Equal(($"writer {winner}", version), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task RacingCompareAndSwapWriters_ExactlyOneWins()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "state";
        StoreVersion initial = await store.WriteAsync(key, Content("initial"), WriteCondition.IfAbsent);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<StoreVersion>[] writers = Enumerable.Range(0, RacingWriters)
            .Select(i => Task.Run(async () =>
            {
                await start.Task;
                return await store.WriteAsync(key, Content($"writer {i}"), WriteCondition.IfVersionMatches(initial));
            }))
            .ToArray();

        start.SetResult();
        (int winner, StoreVersion version) = await SingleWinnerAsync(writers);

        Assert.NotEqual(initial, version);
        Assert.Equal(($"writer {winner}", version), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task CancellationDuringTheUpload_ThrowsAndLeavesNoObject()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string key = prefix + "cancelled.bin";
        using var source = new CancellationTokenSource();
        using var content = new CancellingStream(length: 4L * MiB, cancelAfter: MiB, source);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync(key, content, WriteCondition.IfAbsent, source.Token));

        Assert.True(content.Cancelled);
        Assert.Null(await store.ReadAsync(key));
        Assert.Empty(await ListAsync(store, prefix));
        StoreVersion version = await store.WriteAsync(key, Content("after"), WriteCondition.IfAbsent);
        Assert.Equal(("after", version), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task CancellationDuringAReplacement_KeepsThePreviousObject()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "state";
        StoreVersion version = await store.WriteAsync(key, Content("previous"), WriteCondition.IfAbsent);
        using var source = new CancellationTokenSource();
        using var content = new CancellingStream(length: 4L * MiB, cancelAfter: MiB, source);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync(key, content, WriteCondition.IfVersionMatches(version), source.Token));

        Assert.Equal(("previous", version), await ReadTextAndVersionAsync(store, key));
    }

    [Fact]
    public async Task AlreadyCancelledToken_ThrowsAndDoesNothing()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string key = prefix + "object";
        await store.WriteAsync(prefix + "existing", Content("x"), WriteCondition.IfAbsent);
        using var source = new CancellationTokenSource();
        await source.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync(key, Content("x"), WriteCondition.None, source.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.DeleteAsync(prefix + "existing", cancellationToken: source.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ReadAsync(prefix + "existing", cancellationToken: source.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (StoreObjectInfo _ in store.ListAsync(prefix, source.Token))
            {
            }
        });

        Assert.Equal([prefix + "existing"], await ListKeysAsync(store, prefix));
    }

    [Fact]
    public async Task NonSeekableContent_IsWrittenWhole()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "piped.bin";
        const int Size = 3 * MiB + 17;

        StoreVersion version;
        using (var content = new GeneratedStream(Size, seed: 5, seekable: false))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal(Size, read.Info.Length);
        Assert.Equal(version, read.Info.Version);
        Assert.Equal(GeneratedStream.Hash(Size, seed: 5), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task Content_IsReadFromItsCurrentPosition_AndNotDisposed()
    {
        IInputStateStore store = await CreateStoreAsync();
        string key = NewPrefix() + "object";
        var content = new MemoryStream(Encoding.UTF8.GetBytes("skip:keep"));
        content.Position = 5;

        await store.WriteAsync(key, content, WriteCondition.IfAbsent);

        Assert.True(content.CanRead); // not disposed
        Assert.Equal("keep", (await ReadTextAndVersionAsync(store, key)).Text);
    }

    [Fact]
    public async Task EmptyObject_RoundTrips()
    {
        IInputStateStore store = await CreateStoreAsync();
        string prefix = NewPrefix();
        string key = prefix + "empty";

        StoreVersion version = await store.WriteAsync(key, new MemoryStream(), WriteCondition.IfAbsent);

        await using (StoreReadResult? read = await store.ReadAsync(key))
        {
            Assert.NotNull(read);
            Assert.Equal(0, read.Info.Length);
            Assert.Equal(version, read.Info.Version);
            Assert.Empty(await ReadBytesAsync(read.Content));
        }

        StoreObjectInfo listed = Assert.Single(await ListAsync(store, prefix));
        Assert.Equal((0L, version), (listed.Length, listed.Version));

        StoreVersion replaced = await store.WriteAsync(key, new NonSeekableStream(new MemoryStream()), WriteCondition.IfVersionMatches(version));
        Assert.Equal((string.Empty, replaced), await ReadTextAndVersionAsync(store, key));
    }

    /// <summary>Returns a key prefix no other test (or run) uses, ending with <c>/</c>.</summary>
    protected static string NewPrefix() => $"contract-{Guid.NewGuid():N}/";

    /// <summary>Returns a readable stream over the UTF-8 bytes of <paramref name="text"/>.</summary>
    protected static MemoryStream Content(string text) => new(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads a stream to its end.</summary>
    protected static async Task<byte[]> ReadBytesAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>Reads a stream to its end as UTF-8 text.</summary>
    protected static async Task<string> ReadTextAsync(Stream stream) => Encoding.UTF8.GetString(await ReadBytesAsync(stream));

    /// <summary>Reads an object's text and version; fails if it does not exist.</summary>
    protected static async Task<(string Text, StoreVersion Version)> ReadTextAndVersionAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        return (await ReadTextAsync(read.Content), read.Info.Version);
    }

    /// <summary>Lists a prefix into a list.</summary>
    protected static async Task<List<StoreObjectInfo>> ListAsync(IInputStateStore store, string prefix)
    {
        var list = new List<StoreObjectInfo>();
        await foreach (StoreObjectInfo info in store.ListAsync(prefix))
        {
            list.Add(info);
        }

        return list;
    }

    /// <summary>Lists the keys under a prefix, in ordinal order.</summary>
    protected static async Task<string[]> ListKeysAsync(IInputStateStore store, string prefix) =>
        (await ListAsync(store, prefix)).Select(info => info.Key).Order(StringComparer.Ordinal).ToArray();

    private static async Task<string[]> ListRelativeAsync(IInputStateStore store, string root, string prefix) =>
        (await ListKeysAsync(store, root + prefix)).Select(key => key[root.Length..]).ToArray();

    /// <summary>Waits for racing writers; asserts that exactly one succeeded and every other one got a conflict.</summary>
    private static async Task<(int Winner, StoreVersion Version)> SingleWinnerAsync(Task<StoreVersion>[] writers)
    {
        try
        {
            await Task.WhenAll(writers);
        }
        catch (CheckpointConflictException)
        {
            // Inspected below, writer by writer.
        }

        int[] winners = Enumerable.Range(0, writers.Length).Where(i => writers[i].IsCompletedSuccessfully).ToArray();
        int winner = Assert.Single(winners);
        Assert.All(
            writers.Where((_, i) => i != winner),
            loser => Assert.IsType<CheckpointConflictException>(Assert.Single(loser.Exception!.InnerExceptions)));
        return (winner, await writers[winner]);
    }
}
