using System.Security.Cryptography;
using System.Text;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>Creates checkpoints with the SDK's own <see cref="CheckpointManager"/>, and reads stores back for comparisons.</summary>
public static class TestCheckpoints
{
    /// <summary>The deterministic content of one part.</summary>
    public static byte[] PartBytes(string chain, long step, string part, int size)
    {
        byte[] bytes = new byte[size];
        byte[] seed = SHA256.HashData(Encoding.UTF8.GetBytes($"{chain}/{step}/{part}"));
        for (int i = 0; i < size; i++)
        {
            bytes[i] = (byte)(seed[i % seed.Length] ^ (i * 31));
        }

        return bytes;
    }

    /// <summary>Saves <paramref name="count"/> checkpoints (steps <paramref name="firstStep"/>, + <paramref name="stride"/>, …) of <paramref name="chain"/>.</summary>
    public static async Task<IReadOnlyList<CheckpointReference>> SaveAsync(
        IInputStateStore store,
        string chain = "input",
        int count = 3,
        long firstStep = 0,
        long stride = 20,
        int keepMax = 5,
        string? stateFileKey = null,
        string[]? parts = null,
        int size = 1000)
    {
        parts ??= ["train"];
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions
        {
            Chain = chain,
            StateFileKey = stateFileKey,
            KeepMax = keepMax,
            WriterId = $"test-host/{chain}",
        });
        for (int i = 0; i < count; i++)
        {
            long step = firstStep + (i * stride);
            KeyValuePair<string, ICheckpointSnapshot>[] snapshots =
                [.. parts.Select(p => KeyValuePair.Create(p, CheckpointSnapshots.FromBytes(PartBytes(chain, step, p, size))))];
            await manager.SaveAsync(step, snapshots);
        }

        return await manager.ListCheckpointsAsync();
    }

    /// <summary>Creates the usual test layout: chain <c>input</c> (steps 0–80, 5 retained, two parts) and the model chain (state file <c>checkpoint</c>).</summary>
    public static async Task CreateJobAsync(IInputStateStore store, int size = 1000)
    {
        await SaveAsync(store, "input", count: 5, parts: ["train", "shuffle"], size: size);
        await SaveAsync(store, "model", count: 3, stride: 40, stateFileKey: "checkpoint", size: size / 2);
    }

    /// <summary>Every object of the store with its bytes.</summary>
    public static async Task<SortedDictionary<string, byte[]>> SnapshotAsync(IInputStateStore store)
    {
        var all = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        await foreach (StoreObjectInfo info in store.ListAsync(string.Empty))
        {
            all[info.Key] = await ReadAsync(store, info.Key);
        }

        return all;
    }

    public static async Task<byte[]> ReadAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult read = await store.ReadAsync(key) ?? throw new InvalidOperationException($"{key} is missing.");
        using var buffer = new MemoryStream();
        await read.Content.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    /// <summary>Overwrites one byte in the middle of <paramref name="key"/> (same length), as bit rot would.</summary>
    public static async Task CorruptAsync(IInputStateStore store, string key)
    {
        byte[] bytes = await ReadAsync(store, key);
        bytes[bytes.Length / 2] ^= 0xFF;
        await store.WriteAsync(key, new MemoryStream(bytes), WriteCondition.None);
    }

    /// <summary>
    /// Asserts that <paramref name="copy"/> holds the same checkpoints as <paramref name="original"/>: per chain the
    /// same steps in the same order, with the same capture time, writer, part names, lengths, checksums and bytes.
    /// </summary>
    public static async Task AssertSameCheckpointsAsync(IInputStateStore original, IInputStateStore copy, params (string Chain, string StateFileKey)[] chains)
    {
        foreach ((string chain, string stateFileKey) in chains)
        {
            using var a = new CheckpointManager(original, new CheckpointManagerOptions { Chain = chain, StateFileKey = stateFileKey });
            using var b = new CheckpointManager(copy, new CheckpointManagerOptions { Chain = chain, StateFileKey = stateFileKey });
            IReadOnlyList<CheckpointReference> left = await a.ListCheckpointsAsync();
            IReadOnlyList<CheckpointReference> right = await b.ListCheckpointsAsync();
            Assert.Equal(left.Select(r => r.Step), right.Select(r => r.Step));
            Assert.NotEmpty(left);
            for (int i = 0; i < left.Count; i++)
            {
                CheckpointManifest m1 = await a.VerifyAsync(left[i]);
                CheckpointManifest m2 = await b.VerifyAsync(right[i]);
                Assert.Equal(m1.CreatedAt, m2.CreatedAt);
                Assert.Equal(m1.WriterId, m2.WriterId);
                Assert.Equal(m1.Parts.Select(p => (p.Name, p.Length, p.Checksum)), m2.Parts.Select(p => (p.Name, p.Length, p.Checksum)));
                for (int p = 0; p < m1.Parts.Count; p++)
                {
                    Assert.Equal(await ReadAsync(original, m1.Parts[p].Key), await ReadAsync(copy, m2.Parts[p].Key));
                }
            }
        }
    }

    /// <summary>Restores the latest checkpoint of <paramref name="chain"/> with the manager and returns each part's bytes.</summary>
    public static async Task<Dictionary<string, byte[]>> RestoreLatestAsync(IInputStateStore store, string chain, string[] parts, string? stateFileKey = null)
    {
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = chain, StateFileKey = stateFileKey });
        var sinks = parts.ToDictionary(p => p, _ => new Sink());
        CheckpointReference? restored = await manager.RestoreLatestAsync([.. sinks.Select(s => KeyValuePair.Create(s.Key, (ICheckpointable)s.Value))]);
        Assert.NotNull(restored);
        return sinks.ToDictionary(s => s.Key, s => s.Value.Restored!);
    }

    private sealed class Sink : ICheckpointable
    {
        public byte[]? Restored { get; private set; }

        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.FromBytes(Restored ?? []);

        public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
        {
            using var buffer = new MemoryStream();
            await state.CopyToAsync(buffer, cancellationToken);
            Restored = buffer.ToArray();
        }
    }
}
