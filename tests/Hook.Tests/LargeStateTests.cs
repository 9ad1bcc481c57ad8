using System.Security.Cryptography;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

public sealed class LargeStateTests : IDisposable
{
    private const int SixtyFourMiB = 64 * 1024 * 1024;

    private readonly TempDirectory _dir = new("hook-large");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A64MiBState_SavesAndRestoresByteExactly_OnTheLocalStore()
    {
        var store = new LocalInputStateStore(_dir.Combine("store"));
        var original = new BlobState(SixtyFourMiB, seed: 64);
        byte[] expectedHash = SHA256.HashData(original.Data);
        var small = new CountingIterator();
        await small.TakeAsync(3);

        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Capture(("shuffle", original), ("iterator", small)));
        }

        // The state keeps changing after the capture; the checkpoint holds the captured bytes.
        original.Data[0] ^= 0xFF;
        var restored = new BlobState([]);
        var restoredIterator = new CountingIterator();
        using CheckpointManager reader = Ckpt.Manager(store);
        await reader.RestoreLatestAsync(Ckpt.Targets(("shuffle", restored), ("iterator", restoredIterator)));

        Assert.Equal(SixtyFourMiB, restored.Data.Length);
        Assert.Equal(expectedHash, SHA256.HashData(restored.Data));
        Assert.Equal(3, restoredIterator.Position);
        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, (await reader.ListCheckpointsAsync())[0].ManifestKey);
        Assert.Equal(SixtyFourMiB, manifest.Parts.Single(p => p.Name == "shuffle").Length);
    }

    [Fact]
    public async Task A64MiBState_WithOneFlippedByte_IsDetected_AndFallsBack()
    {
        string root = _dir.Combine("store");
        var store = new LocalInputStateStore(root);
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("shuffle", [1, 2, 3])));
            await writer.SaveAsync(2, Ckpt.Capture(("shuffle", new BlobState(SixtyFourMiB, seed: 65))));
        }

        string part = (await Ckpt.ListKeysAsync(store, "input.ckpt-2.")).Single(k => k.EndsWith(".part", StringComparison.Ordinal));
        await using (FileStream file = File.Open(Path.Combine(root, part), FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = SixtyFourMiB - 12345;
            int b = file.ReadByte();
            file.Position = SixtyFourMiB - 12345;
            file.WriteByte((byte)(b ^ 0x01));
        }

        var restored = new BlobState([]);
        using CheckpointManager reader = Ckpt.Manager(store);
        CheckpointReference? reference = await reader.RestoreLatestAsync(Ckpt.Targets(("shuffle", restored)));

        Assert.Equal(1, reference!.Step);
        Assert.Equal([1, 2, 3], restored.Data);
        Assert.Equal(1, reader.FallbackCount);
    }

    [Fact]
    public async Task BufferedAndStreamedSnapshots_OfTheSameBytes_WriteTheSameLengthAndChecksum()
    {
        var store = new LocalInputStateStore(_dir.Combine("store"));
        byte[] data = BlobState.Generate(5 * 1024 * 1024 + 17, seed: 5);
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            // CopyOf is uploaded straight from memory (IBufferedCheckpointSnapshot); FromWriter goes through the pipe.
            Assert.IsAssignableFrom<IBufferedCheckpointSnapshot>(CheckpointSnapshots.CopyOf(data));
            await writer.SaveAsync(1, [new("a", CheckpointSnapshots.CopyOf(data)), new("b", new BlobState(data).CaptureState())]);
        }

        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, (await Ckpt.ListKeysAsync(store, "input.ckpt-1.")).Single(k => k.EndsWith(".manifest", StringComparison.Ordinal)));
        CheckpointPartInfo a = manifest.Parts.Single(p => p.Name == "a");
        CheckpointPartInfo b = manifest.Parts.Single(p => p.Name == "b");
        Assert.Equal(data.Length, a.Length);
        Assert.Equal(b.Length, a.Length);
        Assert.Equal(b.Checksum, a.Checksum);
        Assert.Equal(data, await Ckpt.ReadAllAsync(store, a.Key));
    }

    [Fact]
    public async Task BufferedSnapshot_WhenTheStoreRefusesThePart_ThrowsATypedError_AndNothingIsCommitted()
    {
        var store = new PartRefusingStore(new LocalInputStateStore(_dir.Combine("store")));
        using CheckpointManager writer = Ckpt.Manager(store);

        CheckpointStoreException error = await Assert.ThrowsAsync<CheckpointStoreException>(
            () => writer.SaveAsync(1, [new("a", CheckpointSnapshots.CopyOf(BlobState.Generate(1024, seed: 1)))]));

        Assert.Contains("disk full", error.Message, StringComparison.Ordinal);
        Assert.Empty(await writer.ListCheckpointsAsync());
    }

    [Theory]
    [InlineData("middle")]
    [InlineData("last")]
    [InlineData("truncated")]
    [InlineData("none")]
    public async Task RestoreReadingThePartInOneLargeRead_VerifiesEveryChunk(string damage)
    {
        // A target that asks for the whole part in one read makes the verifying stream split it into chunks, hashing
        // each while the next is read: damage anywhere must still be caught.
        string root = _dir.Combine("store");
        var store = new LocalInputStateStore(root);
        byte[] older = BlobState.Generate(100, seed: 1);
        byte[] latest = BlobState.Generate((5 * 1024 * 1024) + 3, seed: 2);
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, [new("s", CheckpointSnapshots.CopyOf(older))]);
            await writer.SaveAsync(2, [new("s", CheckpointSnapshots.CopyOf(latest))]);
        }

        string part = (await Ckpt.ListKeysAsync(store, "input.ckpt-2.")).Single(k => k.EndsWith(".part", StringComparison.Ordinal));
        await using (FileStream file = File.Open(Path.Combine(root, part), FileMode.Open, FileAccess.ReadWrite))
        {
            switch (damage)
            {
                case "middle":
                    file.Position = (2 * 1024 * 1024) + 5;
                    file.WriteByte((byte)(latest[(2 * 1024 * 1024) + 5] ^ 0x80));
                    break;
                case "last":
                    file.Position = latest.Length - 1;
                    file.WriteByte((byte)(latest[^1] ^ 0x01));
                    break;
                case "truncated":
                    file.SetLength(latest.Length - 1000);
                    break;
            }
        }

        var target = new WholeReadState(latest.Length + 10);
        using CheckpointManager reader = Ckpt.Manager(store);
        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("s", target)));

        if (damage == "none")
        {
            Assert.Equal(2, restored!.Step);
            Assert.Equal(latest, target.Restored);
            Assert.Equal(0, reader.FallbackCount);
        }
        else
        {
            Assert.Equal(1, restored!.Step);
            Assert.Equal(older, target.Restored);
            Assert.Equal(1, reader.FallbackCount);
        }
    }

    /// <summary>A store whose part writes fail with a plain <see cref="IOException"/>, as a raw SDK or file system would.</summary>
    private sealed class PartRefusingStore(IInputStateStore inner) : IInputStateStore
    {
        public string ProviderName => inner.ProviderName;

        public Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default) =>
            key.EndsWith(".part", StringComparison.Ordinal)
                ? Task.FromException<StoreVersion>(new IOException("disk full"))
                : inner.WriteAsync(key, content, condition, cancellationToken);

        public Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default) => inner.ReadAsync(key, offset, cancellationToken);

        public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, ifVersion, cancellationToken);
    }

    /// <summary>Reads its state with as few, as large reads as possible, into one buffer.</summary>
    private sealed class WholeReadState(int capacity) : ICheckpointable
    {
        public byte[] Restored { get; private set; } = [];

        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.CopyOf(Restored);

        public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
        {
            byte[] buffer = new byte[capacity];
            int total = 0;
            int read;
            while ((read = await state.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
            {
                total += read;
            }

            Restored = buffer[..total];
        }
    }
}
