using System.Text;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Local.Tests;

[Trait("Provider", "Local")]
public sealed class LocalInputStateStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new("local");

    public void Dispose() => _dir.Dispose();

    private string RootPath => _dir.Combine("store");

    private LocalInputStateStore NewStore(TimeSpan? lockTimeout = null) =>
        new(new LocalStoreOptions { Path = RootPath, LockTimeout = lockTimeout ?? LocalStoreOptions.DefaultLockTimeout });

    [Fact]
    public async Task ManyWritersCreatingAFreshRootAtOnce_AllSucceed()
    {
        // Regression: racing creators of the root and lock folders used to see ENOENT reported as FileNotFoundException.
        for (int round = 0; round < 10; round++)
        {
            string root = System.IO.Path.Combine(RootPath, $"fresh-{round}", "nested");
            LocalInputStateStore[] stores = [.. Enumerable.Range(0, 4).Select(_ => new LocalInputStateStore(root))];
            Task[] writes = [.. Enumerable.Range(0, 32).Select(i => Task.Run(() =>
                stores[i % stores.Length].WriteAsync($"d{i % 3}/k{i}", Content("x"), WriteCondition.IfAbsent)))];

            await Task.WhenAll(writes);

            Assert.Equal(32, (await ListAsync(stores[0], string.Empty)).Count);
        }
    }

    [Fact]
    public async Task Keys_MapToFilesUnderTheRoot()
    {
        LocalInputStateStore store = NewStore();

        await store.WriteAsync("a/b/c.bin", Content("abc"), WriteCondition.IfAbsent);

        Assert.Equal(Path.GetFullPath(RootPath), store.RootPath);
        Assert.Equal("abc", await File.ReadAllTextAsync(Path.Combine(RootPath, "a", "b", "c.bin")));
        Assert.Equal("Local", store.ProviderName);
    }

    [Fact]
    public async Task FilesPlacedUnderTheRoot_AreListedAndReadable()
    {
        LocalInputStateStore store = NewStore();
        Directory.CreateDirectory(Path.Combine(RootPath, "copied", "in"));
        await File.WriteAllTextAsync(Path.Combine(RootPath, "copied", "in", "file.txt"), "by hand");

        StoreObjectInfo listed = Assert.Single(await ListAsync(store, string.Empty));
        await using StoreReadResult? read = await store.ReadAsync("copied/in/file.txt");

        Assert.Equal("copied/in/file.txt", listed.Key);
        Assert.NotNull(read);
        Assert.Equal(listed.Version, read.Info.Version);
        Assert.Equal(listed.LastModified, read.Info.LastModified);
        Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(RootPath, "copied", "in", "file.txt")), read.Info.LastModified.UtcDateTime);
        Assert.Equal("by hand", await new StreamReader(read.Content).ReadToEndAsync());
    }

    [Theory]
    [InlineData(".ipc-tmp/x")]
    [InlineData(".ipc-locks/00.lock")]
    [InlineData(".ipc-anything")]
    [InlineData(".IPC-TMP/x")]
    public async Task ReservedKeys_AreRejected(string key)
    {
        LocalInputStateStore store = NewStore();

        await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(key, Content("x"), WriteCondition.None));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ReadAsync(key));
        await Assert.ThrowsAsync<ArgumentException>(() => store.DeleteAsync(key));
        Assert.False(File.Exists(Path.Combine(RootPath, key)));
    }

    [Fact]
    public async Task InternalFolders_AreNeverListed()
    {
        LocalInputStateStore store = NewStore();
        await store.WriteAsync("visible", Content("x"), WriteCondition.IfAbsent);
        await store.WriteAsync("dir/.ipc-not-reserved-below-the-root", Content("y"), WriteCondition.IfAbsent);
        await File.WriteAllTextAsync(Path.Combine(RootPath, LocalInputStateStore.TempFolderName, "leftover.tmp"), "partial");
        Assert.True(Directory.Exists(Path.Combine(RootPath, LocalInputStateStore.LockFolderName)));

        Assert.Equal(["dir/.ipc-not-reserved-below-the-root", "visible"], (await ListAsync(store, string.Empty)).Select(i => i.Key).Order(StringComparer.Ordinal));
        Assert.Empty(await ListAsync(store, ".ipc-"));
        Assert.Empty(await ListAsync(store, ".ipc-tmp/"));
        Assert.Empty(await ListAsync(store, "."));
    }

    [Fact]
    public async Task RapidWritesOfTheSameSize_GetStrictlyIncreasingVersions()
    {
        LocalInputStateStore store = NewStore();
        var versions = new List<StoreVersion>();
        var times = new List<DateTimeOffset>();

        for (int i = 0; i < 40; i++)
        {
            versions.Add(await store.WriteAsync("state", Content($"v{i % 10}"), WriteCondition.None));
            await using StoreReadResult? read = await store.ReadAsync("state");
            Assert.NotNull(read);
            Assert.Equal(versions[^1], read.Info.Version);
            times.Add(read.Info.LastModified);
        }

        Assert.Equal(versions.Count, versions.Distinct().Count());
        for (int i = 1; i < times.Count; i++)
        {
            Assert.True(times[i] > times[i - 1], $"write {i} has time {times[i]:O}, not after {times[i - 1]:O}");
        }
    }

    [Fact]
    public async Task AWriteAfterAFileDatedInTheFuture_StillGetsALaterTime()
    {
        LocalInputStateStore store = NewStore();
        await store.WriteAsync("state", Content("same size"), WriteCondition.IfAbsent);

        // As if the previous writer's clock ran an hour ahead (or many writes came within one clock tick).
        DateTime future = DateTime.UtcNow.AddHours(1);
        File.SetLastWriteTimeUtc(Path.Combine(RootPath, "state"), future);
        StoreVersion previous = (await store.ReadAsync("state"))!.Info.Version;

        StoreVersion next = await store.WriteAsync("state", Content("same size"), WriteCondition.IfVersionMatches(previous));
        StoreVersion last = await store.WriteAsync("state", Content("same size"), WriteCondition.IfVersionMatches(next));

        await using StoreReadResult? read = await store.ReadAsync("state");
        Assert.Equal(last, read!.Info.Version);
        Assert.True(read.Info.LastModified.UtcDateTime > future, $"{read.Info.LastModified:O} is not after {future:O}");
        Assert.Equal(3, new[] { previous, next, last }.Distinct().Count());
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync("state", Content("same size"), WriteCondition.IfVersionMatches(next)));
    }

    [Fact]
    public async Task RapidCompareAndSwaps_RejectEveryStaleVersion()
    {
        LocalInputStateStore store = NewStore();
        StoreVersion current = await store.WriteAsync("state", Content("same"), WriteCondition.IfAbsent);
        var stale = new List<StoreVersion>();

        for (int i = 0; i < 20; i++)
        {
            stale.Add(current);
            current = await store.WriteAsync("state", Content("same"), WriteCondition.IfVersionMatches(current));
        }

        foreach (StoreVersion old in stale)
        {
            await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync("state", Content("late"), WriteCondition.IfVersionMatches(old)));
            await Assert.ThrowsAsync<CheckpointConflictException>(() => store.DeleteAsync("state", old));
        }

        Assert.True(await store.DeleteAsync("state", current));
    }

    [Fact]
    public async Task StaleTempFiles_AreCollectedOnTheFirstWrite()
    {
        string temp = Path.Combine(RootPath, LocalInputStateStore.TempFolderName);
        Directory.CreateDirectory(temp);
        string stale = Path.Combine(temp, "stale.tmp");
        string fresh = Path.Combine(temp, "fresh.tmp");
        await File.WriteAllTextAsync(stale, "left by a killed writer");
        await File.WriteAllTextAsync(fresh, "being written by another process");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));

        LocalInputStateStore store = NewStore();
        await store.WriteAsync("key", Content("x"), WriteCondition.IfAbsent);

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task SuccessfulAndFailedWrites_LeaveNoTempFiles()
    {
        LocalInputStateStore store = NewStore();
        StoreVersion version = await store.WriteAsync("key", Content("x"), WriteCondition.IfAbsent);
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync("key", Content("y"), WriteCondition.IfAbsent));
        await store.WriteAsync("key", Content("z"), WriteCondition.IfVersionMatches(version));
        using var source = new CancellationTokenSource();
        using var content = new CancellingStream(4 * 1024 * 1024, 1024 * 1024, source);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync("other", content, WriteCondition.None, source.Token));

        Assert.Empty(Directory.GetFiles(Path.Combine(RootPath, LocalInputStateStore.TempFolderName)));
    }

    [Fact]
    public async Task ARootThatIsAFile_FailsWithCheckpointStoreException()
    {
        Directory.CreateDirectory(_dir.Path);
        await File.WriteAllTextAsync(RootPath, "not a directory");
        LocalInputStateStore store = NewStore();

        var error = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("a/key", Content("x"), WriteCondition.IfAbsent));

        Assert.Equal("Local", error.ProviderName);
        Assert.Equal("a/key", error.Key);
        Assert.IsAssignableFrom<IOException>(error.InnerException);
        Assert.Null(await store.ReadAsync("a/key"));
        Assert.False(await store.DeleteAsync("a/key"));
    }

    [Fact]
    public async Task AnObjectWhereADirectoryIs_FailsWithCheckpointStoreException()
    {
        LocalInputStateStore store = NewStore();
        await store.WriteAsync("a/b", Content("x"), WriteCondition.IfAbsent);

        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("a", Content("y"), WriteCondition.IfAbsent));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("a", Content("y"), WriteCondition.None));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("a/b/c", Content("y"), WriteCondition.None));

        Assert.Null(await store.ReadAsync("a"));
        Assert.False(await store.DeleteAsync("a"));
        Assert.Equal(["a/b"], (await ListAsync(store, string.Empty)).Select(i => i.Key));
    }

    [Fact]
    public async Task ASegmentLongerThanTheFileSystemAllows_IsRejectedByTheKeyRules_AndTheLongestAllowedOneWorks()
    {
        LocalInputStateStore store = NewStore();
        string tooLong = "dir/" + new string('n', StoreKey.MaxSegmentBytes + 1);
        string longest = "dir/" + new string('n', StoreKey.MaxSegmentBytes);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(tooLong, Content("x"), WriteCondition.IfAbsent));
        await store.WriteAsync(longest, Content("x"), WriteCondition.IfAbsent);

        Assert.Contains("segment", error.Message, StringComparison.Ordinal);
        Assert.Equal([longest], (await ListAsync(store, string.Empty)).Select(o => o.Key));
    }

    [Fact]
    public async Task AnOpenReader_KeepsReadingTheFileItOpened()
    {
        LocalInputStateStore store = NewStore();
        byte[] original = GeneratedStream.Bytes(1024 * 1024, seed: 1);
        StoreVersion version = await store.WriteAsync("state", new MemoryStream(original), WriteCondition.IfAbsent);

        await using StoreReadResult? read = await store.ReadAsync("state");
        Assert.NotNull(read);
        var first = new byte[1000];
        await read.Content.ReadExactlyAsync(first);
        StoreVersion replaced = await store.WriteAsync("state", Content("replacement"), WriteCondition.IfVersionMatches(version));
        await using (StoreReadResult? meanwhile = await store.ReadAsync("state"))
        {
            Assert.Equal(replaced, meanwhile!.Info.Version);
        }

        Assert.True(await store.DeleteAsync("state"));
        using var rest = new MemoryStream();
        await read.Content.CopyToAsync(rest);

        Assert.Equal(version, read.Info.Version);
        Assert.Equal(original, first.Concat(rest.ToArray()));
    }

    [Fact]
    public async Task Delete_RemovesDirectoriesLeftEmpty()
    {
        LocalInputStateStore store = NewStore();
        await store.WriteAsync("x/y/z", Content("1"), WriteCondition.IfAbsent);
        await store.WriteAsync("x/keep", Content("2"), WriteCondition.IfAbsent);

        Assert.True(await store.DeleteAsync("x/y/z"));
        Assert.False(Directory.Exists(Path.Combine(RootPath, "x", "y")));
        Assert.True(Directory.Exists(Path.Combine(RootPath, "x")));

        Assert.True(await store.DeleteAsync("x/keep"));
        Assert.False(Directory.Exists(Path.Combine(RootPath, "x")));
        Assert.True(Directory.Exists(RootPath));

        await store.WriteAsync("x/y/z", Content("again"), WriteCondition.IfAbsent);
        Assert.Equal(["x/y/z"], (await ListAsync(store, "x/")).Select(i => i.Key));
    }

    [Fact]
    public async Task AKeyLockedByAnotherProcess_TimesOutWithCheckpointStoreException()
    {
        LocalInputStateStore store = NewStore(lockTimeout: TimeSpan.FromMilliseconds(200));
        StoreVersion version = await store.WriteAsync("state", Content("before"), WriteCondition.IfAbsent);

        // Hold every lock file as another process would (a separate handle with FileShare.None).
        string locks = Path.Combine(RootPath, LocalInputStateStore.LockFolderName);
        var held = new List<FileStream>();
        try
        {
            for (int stripe = 0; stripe < 256; stripe++)
            {
                held.Add(new FileStream(Path.Combine(locks, $"{stripe:x2}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }

            var error = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("state", Content("during"), WriteCondition.IfVersionMatches(version)));
            Assert.IsType<TimeoutException>(error.InnerException);
            Assert.Equal("state", error.Key);
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("state"));
        }
        finally
        {
            held.ForEach(file => file.Dispose());
        }

        Assert.Equal(version, (await store.ReadAsync("state"))!.Info.Version);
        await store.WriteAsync("state", Content("after"), WriteCondition.IfVersionMatches(version));
    }

    [Fact]
    public async Task TwoStoresOnOneRoot_RacingCreateOnly_ExactlyOneWins()
    {
        LocalInputStateStore[] stores = [NewStore(), NewStore(), NewStore(), NewStore()];
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<StoreVersion>[] writers = stores
            .Select((store, i) => Task.Run(async () =>
            {
                await start.Task;
                return await store.WriteAsync("contended", Content($"store {i}"), WriteCondition.IfAbsent);
            }))
            .ToArray();

        start.SetResult();
        try
        {
            await Task.WhenAll(writers);
        }
        catch (CheckpointConflictException)
        {
        }

        int winner = Assert.Single(Enumerable.Range(0, writers.Length), i => writers[i].IsCompletedSuccessfully);
        Assert.All(writers.Where((_, i) => i != winner), w => Assert.IsType<CheckpointConflictException>(w.Exception!.InnerException));
        await using StoreReadResult? read = await stores[0].ReadAsync("contended");
        Assert.Equal(await writers[winner], read!.Info.Version);
        Assert.Equal($"store {winner}", await new StreamReader(read.Content).ReadToEndAsync());
    }

    [Fact]
    public void InvalidOptions_AreRejected()
    {
        Assert.Throws<CheckpointOptionsException>(() => new LocalInputStateStore(new LocalStoreOptions { Path = " " }));
        Assert.Throws<CheckpointOptionsException>(() => new LocalInputStateStore(string.Empty));
        Assert.Throws<CheckpointOptionsException>(() => new LocalInputStateStore(new LocalStoreOptions { Path = RootPath, LockTimeout = TimeSpan.Zero }));
        Assert.Throws<CheckpointOptionsException>(() => new LocalInputStateStore(new LocalStoreOptions { Path = RootPath, StaleTempFileAge = TimeSpan.FromSeconds(-1) }));
        Assert.Throws<ArgumentNullException>(() => new LocalInputStateStore((LocalStoreOptions)null!));
        Assert.Throws<ArgumentNullException>(() => new LocalInputStateStore((string)null!));
    }

    [Fact]
    public void Defaults_AreDocumentedValues()
    {
        var options = new LocalStoreOptions();

        Assert.Equal("checkpoints", options.Path);
        Assert.Equal(TimeSpan.FromSeconds(30), options.LockTimeout);
        Assert.Equal(TimeSpan.FromHours(1), options.StaleTempFileAge);
        Assert.Equal(Path.GetFullPath("checkpoints"), new LocalInputStateStore(options).RootPath);
    }

    [Fact]
    public async Task ReadingAndListingAMissingRoot_FindNothingAndCreateNothing()
    {
        LocalInputStateStore store = NewStore();

        Assert.Null(await store.ReadAsync("a"));
        Assert.Empty(await ListAsync(store, string.Empty));
        Assert.Empty(await ListAsync(store, "a/b/"));
        Assert.False(await store.DeleteAsync("a"));
        Assert.False(Directory.Exists(RootPath));
    }

    [Fact]
    public async Task CreateOnlyWrites_AreFlushedByTheNextReplacingWrite_AndReadableAtOnce()
    {
        var store = new LocalInputStateStore(RootPath);

        await store.WriteAsync("c/part-1", Content("one"), WriteCondition.IfAbsent);
        await store.WriteAsync("c/part-2", Content("two"), WriteCondition.IfAbsent);

        // Visible at once, flushed later: the commit below flushes both before it writes.
        Assert.Equal(2, store.UnflushedCount);
        Assert.Equal("one", await ReadTextAsync(store, "c/part-1"));
        await store.WriteAsync("c/state", Content("names part-1 and part-2"), WriteCondition.None);
        Assert.Equal(0, store.UnflushedCount);

        // A create-only object deleted before the commit needs no flush and does not fail it.
        StoreVersion created = await store.WriteAsync("c/part-3", Content("three"), WriteCondition.IfAbsent);
        Assert.True(await store.DeleteAsync("c/part-3"));
        StoreReadResult? current = await store.ReadAsync("c/state");
        StoreVersion stateVersion = current!.Info.Version;
        await current.DisposeAsync();
        await store.WriteAsync("c/state", Content("again"), WriteCondition.IfVersionMatches(stateVersion));
        Assert.Equal(0, store.UnflushedCount);
        Assert.NotNull(created.Value);
    }

    [Fact]
    public async Task WithDeferredFlushOff_EveryWriteIsFlushedBeforeItReturns()
    {
        var store = new LocalInputStateStore(new LocalStoreOptions { Path = RootPath, DeferCreateOnlyFlush = false });

        await store.WriteAsync("c/part-1", Content("one"), WriteCondition.IfAbsent);

        Assert.Equal(0, store.UnflushedCount);
        Assert.Equal("one", await ReadTextAsync(store, "c/part-1"));
    }

    [Fact]
    public async Task ACreateOnlyConflict_LeavesNothingToFlush()
    {
        var store = new LocalInputStateStore(RootPath);
        await store.WriteAsync("c/part-1", Content("one"), WriteCondition.IfAbsent);
        await store.WriteAsync("c/state", Content("commit"), WriteCondition.None);

        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync("c/part-1", Content("other"), WriteCondition.IfAbsent));

        Assert.Equal(0, store.UnflushedCount);
        Assert.Equal("one", await ReadTextAsync(store, "c/part-1"));
    }

    private static async Task<string> ReadTextAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult read = await store.ReadAsync(key) ?? throw new InvalidOperationException($"{key} is missing.");
        using var reader = new StreamReader(read.Content, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    private static MemoryStream Content(string text) => new(Encoding.UTF8.GetBytes(text));

    private static async Task<List<StoreObjectInfo>> ListAsync(IInputStateStore store, string prefix)
    {
        var list = new List<StoreObjectInfo>();
        await foreach (StoreObjectInfo info in store.ListAsync(prefix))
        {
            list.Add(info);
        }

        return list;
    }
}
