using System.Text;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Local.Tests;

public sealed class InMemoryInputStateStoreTests
{
    [Fact]
    public async Task LastModified_ComesFromTheTimeProvider()
    {
        var clock = new ManualTimeProvider();
        var store = new InMemoryInputStateStore(clock);
        await store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        clock.Advance(TimeSpan.FromHours(2));
        await store.WriteAsync("b", Content("2"), WriteCondition.IfAbsent);

        Assert.Equal(clock.GetUtcNow() - TimeSpan.FromHours(2), store.GetInfo("a")!.LastModified);
        await using StoreReadResult? read = await store.ReadAsync("b");
        Assert.Equal(clock.GetUtcNow(), read!.Info.LastModified);
    }

    [Fact]
    public async Task Versions_AreNeverReused()
    {
        var store = new InMemoryInputStateStore();
        StoreVersion first = await store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        await store.DeleteAsync("a");
        StoreVersion second = await store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);
        store.Clear();
        StoreVersion third = await store.WriteAsync("a", Content("1"), WriteCondition.IfAbsent);

        Assert.Equal(3, new[] { first, second, third }.Distinct().Count());
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync("a", Content("2"), WriteCondition.IfVersionMatches(first)));
    }

    [Fact]
    public async Task WrittenContent_IsCopied()
    {
        var store = new InMemoryInputStateStore();
        byte[] source = Encoding.UTF8.GetBytes("original");
        await store.WriteAsync("a", new MemoryStream(source), WriteCondition.IfAbsent);
        source[0] = (byte)'X';
        byte[] got = store.GetBytes("a")!;
        got[1] = (byte)'Y';

        Assert.Equal("original", Encoding.UTF8.GetString(store.GetBytes("a")!));
    }

    [Fact]
    public async Task Corrupt_ChangesTheContentButNotTheVersion()
    {
        var store = new InMemoryInputStateStore();
        StoreVersion version = await store.WriteAsync("part", Content("0123456789"), WriteCondition.IfAbsent);

        Assert.True(store.Corrupt("part", bytes => bytes[..4]));
        Assert.False(store.Corrupt("missing", bytes => bytes));

        await using StoreReadResult? read = await store.ReadAsync("part");
        Assert.Equal(version, read!.Info.Version);
        Assert.Equal(4, read.Info.Length);
        Assert.Equal("0123", await new StreamReader(read.Content).ReadToEndAsync());
    }

    [Fact]
    public async Task SetBytesAndRemove_ActDirectly()
    {
        var store = new InMemoryInputStateStore();
        StoreVersion planted = store.SetBytes("planted", "abc"u8);
        StoreVersion replaced = store.SetBytes("planted", "abcd"u8);

        Assert.NotEqual(planted, replaced);
        Assert.Equal(replaced, (await store.ReadAsync("planted"))!.Info.Version);
        Assert.Equal(1, store.Count);
        Assert.True(store.Remove("planted"));
        Assert.Null(store.GetBytes("planted"));
        Assert.Null(store.GetInfo("planted"));
        Assert.Empty(store.Keys);
    }

    private static MemoryStream Content(string text) => new(Encoding.UTF8.GetBytes(text));
}
