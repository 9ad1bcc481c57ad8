using System.Text;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Local.Tests;

public sealed class FaultInjectingInputStateStoreTests
{
    private readonly InMemoryInputStateStore _inner = new();
    private readonly FaultInjectingInputStateStore _store;

    public FaultInjectingInputStateStoreTests()
    {
        _store = new FaultInjectingInputStateStore(_inner);
    }

    [Fact]
    public async Task Calls_AreNumberedAndLogged()
    {
        StoreVersion version = await _store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        await using (await _store.ReadAsync("a"))
        {
        }

        await ListAsync(_store, "pre/");
        await _store.DeleteAsync("a", version);
        await _store.DeleteAsync("b");

        Assert.Equal(5, _store.CallCount);
        Assert.Equal(
            [
                new StoreCall(1, StoreOperation.Write, "a", WriteCondition.IfAbsent),
                new StoreCall(2, StoreOperation.Read, "a", null),
                new StoreCall(3, StoreOperation.List, "pre/", null),
                new StoreCall(4, StoreOperation.Delete, "a", WriteCondition.IfVersionMatches(version)),
                new StoreCall(5, StoreOperation.Delete, "b", WriteCondition.None),
            ],
            _store.Calls);
        Assert.Equal("InMemory", _store.ProviderName);
        Assert.Same(_inner, _store.Inner);
    }

    [Fact]
    public async Task Fail_FailsTheCallAndDoesNothing()
    {
        _store.Arm(Fault.FailAt(2));
        await _store.WriteAsync("first", Content("1"), WriteCondition.IfAbsent);

        var error = await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync("second", Content("2"), WriteCondition.IfAbsent));

        Assert.Equal("second", error.Key);
        Assert.Contains("Injected fault", error.Message, StringComparison.Ordinal);
        Assert.Equal(["first"], _inner.Keys);
        Assert.Equal(FaultKind.Fail, _store.Calls[1].Fault);
        await _store.WriteAsync("second", Content("2"), WriteCondition.IfAbsent);
        Assert.Equal(["first", "second"], _inner.Keys);
        Assert.Null(_store.Calls[2].Fault);
    }

    [Fact]
    public async Task Fail_OnReadsListsAndDeletes_DoesNothing()
    {
        await _store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        _store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Read));
        _store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.List));
        _store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Delete));

        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.ReadAsync("a"));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => ListAsync(_store, string.Empty));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.DeleteAsync("a"));

        Assert.Equal(["a"], _inner.Keys);
        Assert.Empty(_store.ArmedFaults);
        Assert.Single(await ListAsync(_store, string.Empty));
    }

    [Fact]
    public async Task FailAfter_PerformsTheCallThenFails()
    {
        _store.Arm(Fault.FailAfterAt(1));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync("a", Content("written"), WriteCondition.IfAbsent));
        Assert.Equal("written", Encoding.UTF8.GetString(_inner.GetBytes("a")!));

        _store.Arm(Fault.FailAfter.When(c => c.Operation == StoreOperation.Delete));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.DeleteAsync("a"));
        Assert.Empty(_inner.Keys);

        await _store.WriteAsync("b", Content("x"), WriteCondition.IfAbsent);
        _store.Arm(Fault.FailAfter);
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.ReadAsync("b"));
        _store.Arm(Fault.FailAfter);
        await Assert.ThrowsAsync<CheckpointStoreException>(() => ListAsync(_store, string.Empty));
        Assert.Equal(["b"], _inner.Keys);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(100_000)]
    [InlineData(1_000_000)]
    public async Task CutShort_FailsTheWriteAndLeavesNoObject(long bytes)
    {
        _store.Arm(Fault.CutShortAt(1, bytes));

        var error = await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync("part", new GeneratedStream(200_000, seed: 1), WriteCondition.IfAbsent));

        Assert.Equal("part", error.Key);
        Assert.Empty(_inner.Keys);
        Assert.Equal(FaultKind.CutShort, Assert.Single(_store.Calls).Fault);
    }

    [Fact]
    public async Task CutShort_OverTheLocalStore_LeavesNoObjectAndNoTempFile()
    {
        using var dir = new TempDirectory("cut-short");
        var local = new LocalInputStateStore(dir.Path);
        var store = new FaultInjectingInputStateStore(local);
        StoreVersion version = await store.WriteAsync("state", Content("previous"), WriteCondition.IfAbsent);
        store.Arm(Fault.CutShort(3 * 1024 * 1024).When(c => c.Operation == StoreOperation.Write));

        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("part", new GeneratedStream(8 * 1024 * 1024, seed: 2), WriteCondition.IfAbsent));
        store.Arm(Fault.CutShort(100).When(c => c.Operation == StoreOperation.Write));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("state", Content(new string('x', 500)), WriteCondition.IfVersionMatches(version)));

        Assert.Null(await local.ReadAsync("part"));
        Assert.Equal(version, (await local.ReadAsync("state"))!.Info.Version);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, LocalInputStateStore.TempFolderName)));
    }

    [Fact]
    public async Task CutShort_OnACallThatIsNotAWrite_FailsIt()
    {
        await _store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        _store.Arm(Fault.CutShortAt(2, 5));

        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.DeleteAsync("a"));

        Assert.Equal(["a"], _inner.Keys);
    }

    [Fact]
    public async Task Hang_WaitsForCancellationAndDoesNothing()
    {
        _store.Arm(Fault.Hang.When(c => c.Key == "slow"));
        using var source = new CancellationTokenSource();

        Task<StoreVersion> write = _store.WriteAsync("slow", Content("x"), WriteCondition.IfAbsent, source.Token);
        StoreCall hanging = await _store.WaitForHangAsync();
        Assert.False(write.IsCompleted);
        Assert.Equal("slow", hanging.Key);
        await _store.WriteAsync("fast", Content("y"), WriteCondition.IfAbsent);
        await source.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write);
        Assert.Equal(["fast"], _inner.Keys);
        Assert.Equal(FaultKind.Hang, _store.Calls[0].Fault);
    }

    [Fact]
    public async Task Hang_GoesOnWhenReleased()
    {
        _store.Arm(Fault.HangAt(1));

        Task<StoreVersion> write = _store.WriteAsync("slow", Content("x"), WriteCondition.IfAbsent);
        await _store.WaitForHangAsync();
        Assert.False(write.IsCompleted);
        _store.ReleaseHangs();
        StoreVersion version = await write;

        Assert.Equal(version, _inner.GetInfo("slow")!.Version);
    }

    [Fact]
    public async Task Crash_FailsTheCallAndEveryLaterOne_UntilDisarmed()
    {
        _store.Arm(Fault.CrashAt(3));
        await _store.WriteAsync("one", Content("1"), WriteCondition.IfAbsent);
        await _store.WriteAsync("two", Content("2"), WriteCondition.IfAbsent);
        Assert.False(_store.IsCrashed);

        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync("three", Content("3"), WriteCondition.IfAbsent));
        Assert.True(_store.IsCrashed);
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.ReadAsync("one"));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => ListAsync(_store, string.Empty));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.DeleteAsync("one"));
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync("four", Content("4"), WriteCondition.None));

        Assert.Equal(["one", "two"], _inner.Keys);
        Assert.All(_store.Calls.Skip(2), call => Assert.Equal(FaultKind.Crash, call.Fault));

        _store.Disarm();
        Assert.False(_store.IsCrashed);
        await _store.WriteAsync("three", Content("3"), WriteCondition.IfAbsent);
        Assert.Equal(["one", "three", "two"], _inner.Keys);
    }

    [Fact]
    public async Task APredicateFault_HitsOnlyTheNextMatchingCall()
    {
        _store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.StartsWith("manifests/", StringComparison.Ordinal)));

        await _store.WriteAsync("parts/1", Content("p"), WriteCondition.IfAbsent);
        await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync("manifests/1", Content("m"), WriteCondition.IfAbsent));
        await _store.WriteAsync("manifests/1", Content("m"), WriteCondition.IfAbsent);

        Assert.Equal(["manifests/1", "parts/1"], _inner.Keys);
        Assert.Equal([null, FaultKind.Fail, null], _store.Calls.Select(c => c.Fault));
    }

    [Fact]
    public async Task AFaultForAPassedCallNumber_NeverFires_AndDisarmRemovesFaults()
    {
        await _store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        _store.Arm(Fault.FailAt(1));
        _store.Arm(Fault.FailAt(10));

        await _store.WriteAsync("b", Content("2"), WriteCondition.IfAbsent);
        Assert.Equal(2, _store.ArmedFaults.Count);
        _store.Disarm();

        Assert.Empty(_store.ArmedFaults);
        Assert.All(_store.Calls, call => Assert.Null(call.Fault));
    }

    [Fact]
    public async Task ARepeatedFault_HitsEveryMatchingCall_UntilDisarmed_AndLetsTheOthersThrough()
    {
        await _store.WriteAsync("before", Content("0"), WriteCondition.IfAbsent);
        _store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write).Repeatedly());

        for (int i = 0; i < 3; i++)
        {
            var error = await Assert.ThrowsAsync<CheckpointStoreException>(() => _store.WriteAsync($"w{i}", Content("x"), WriteCondition.None));
            Assert.Contains("Injected fault", error.Message, StringComparison.Ordinal);
        }

        await using (StoreReadResult? read = await _store.ReadAsync("before"))
        {
            Assert.NotNull(read);
        }

        Assert.Single(_store.ArmedFaults);
        Assert.True(_store.ArmedFaults[0].Repeats);
        Assert.Equal(["before"], _inner.Keys);
        Assert.Equal([null, FaultKind.Fail, FaultKind.Fail, FaultKind.Fail, null], _store.Calls.Select(c => c.Fault));

        _store.Disarm();
        await _store.WriteAsync("after", Content("1"), WriteCondition.IfAbsent);
        Assert.Equal(["after", "before"], _inner.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Faults_DescribeThemselves()
    {
        Assert.Equal("Fail at call 3", Fault.FailAt(3).ToString());
        Assert.Equal("CutShort(100) at the next matching call", Fault.CutShort(100).When(_ => true).ToString());
        Assert.Equal("Crash at the next call", Fault.Crash.ToString());
        Assert.Equal("Fail at every matching call", Fault.Fail.When(_ => true).Repeatedly().ToString());
        Assert.Equal("Fail at every call", Fault.Fail.Repeatedly().ToString());
        Assert.False(Fault.Fail.Repeats);
        Assert.True(Fault.FailAt(4).Repeatedly().AtCall(5).Repeats);
        Assert.Equal(FaultKind.Hang, Fault.HangAt(2).Kind);
        Assert.Equal(2, Fault.HangAt(2).CallNumber);
        Assert.Throws<ArgumentOutOfRangeException>(() => Fault.FailAt(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Fault.CutShort(-1));
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
