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
}
