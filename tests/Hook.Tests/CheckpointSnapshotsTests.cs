namespace InputPipeline.Checkpointing.Tests;

public sealed class CheckpointSnapshotsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4097)]
    [InlineData(3 * 1024 * 1024)]
    public async Task CopyOf_HoldsTheBytesAsTheyWere_AndWritesExactlyThem(int length)
    {
        byte[] live = BlobState.Generate(length, seed: length);
        byte[] expected = [.. live];
        using ICheckpointSnapshot snapshot = CheckpointSnapshots.CopyOf(live);
        Array.Fill(live, (byte)0xAB); // the state goes on changing after the capture

        var written = new MemoryStream();
        await snapshot.WriteToAsync(written);

        Assert.Equal(length, snapshot.Length);
        Assert.Equal(expected, written.ToArray());
        Assert.Equal(expected, ((IBufferedCheckpointSnapshot)snapshot).Buffer.ToArray());
    }

    [Fact]
    public async Task CopyOf_AfterDispose_RefusesToBeRead_AndDisposingTwiceIsHarmless()
    {
        ICheckpointSnapshot snapshot = CheckpointSnapshots.CopyOf(new byte[] { 1, 2, 3 });

        snapshot.Dispose();
        snapshot.Dispose();

        Assert.Throws<ObjectDisposedException>(() => ((IBufferedCheckpointSnapshot)snapshot).Buffer);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await snapshot.WriteToAsync(new MemoryStream()));
    }

    [Fact]
    public async Task CopiesTakenOneAfterAnother_DoNotShareBytes_WhileBothAreAlive()
    {
        using ICheckpointSnapshot first = CheckpointSnapshots.CopyOf(new byte[] { 1, 1, 1 });
        using ICheckpointSnapshot second = CheckpointSnapshots.CopyOf(new byte[] { 2, 2 });

        var a = new MemoryStream();
        var b = new MemoryStream();
        await first.WriteToAsync(a);
        await second.WriteToAsync(b);

        Assert.Equal([1, 1, 1], a.ToArray());
        Assert.Equal([2, 2], b.ToArray());
    }

    [Fact]
    public async Task FromBytes_IsBuffered_AndWritesTheGivenBytes()
    {
        byte[] bytes = [9, 8, 7];
        using ICheckpointSnapshot snapshot = CheckpointSnapshots.FromBytes(bytes);
        var written = new MemoryStream();

        await snapshot.WriteToAsync(written);

        Assert.Equal(bytes, written.ToArray());
        Assert.True(((IBufferedCheckpointSnapshot)snapshot).Buffer.Span.SequenceEqual(bytes));
    }
}
