using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Local.Tests;

/// <summary>
/// Writes self-checking objects to a Local store in a loop — create-only parts, compare-and-swaps of a state
/// object, overwrites and deletes — until the process is killed.
/// </summary>
public static class CrashWriter
{
    public const string Command = "crash-writer";

    /// <summary>The object format: an 8-byte little-endian payload length, the payload, and the payload's SHA-256.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var framed = new byte[8 + payload.Length + 32];
        BinaryPrimitives.WriteInt64LittleEndian(framed, payload.Length);
        payload.CopyTo(framed.AsSpan(8));
        SHA256.HashData(payload, framed.AsSpan(8 + payload.Length));
        return framed;
    }

    /// <summary>Returns whether <paramref name="framed"/> is a whole, undamaged object.</summary>
    public static bool IsIntact(ReadOnlySpan<byte> framed)
    {
        if (framed.Length < 40)
        {
            return false;
        }

        long length = BinaryPrimitives.ReadInt64LittleEndian(framed);
        if (length != framed.Length - 40)
        {
            return false;
        }

        return SHA256.HashData(framed.Slice(8, (int)length)).AsSpan().SequenceEqual(framed[(8 + (int)length)..]);
    }

    public static async Task RunAsync(string root, int seed)
    {
        var store = new LocalInputStateStore(root);
        var random = new Random(seed);
        await store.WriteAsync($"ready/{seed}", new MemoryStream(Frame([1])), WriteCondition.None);
        await Console.Out.WriteLineAsync("ready"); // after a first write, so the parent knows writes go through
        await Console.Out.FlushAsync();
        for (int i = 0; ; i++)
        {
            var payload = new byte[random.Next(1, 4 * 1024 * 1024)];
            random.NextBytes(payload);
            using var content = new MemoryStream(Frame(payload));
            switch (i % 4)
            {
                case 0:
                    await store.WriteAsync($"parts/{seed}-{i}", content, WriteCondition.IfAbsent);
                    break;
                case 1:
                    StoreVersion? current;
                    await using (StoreReadResult? read = await store.ReadAsync("state"))
                    {
                        current = read?.Info.Version;
                    }

                    await store.WriteAsync("state", content, current is { } version ? WriteCondition.IfVersionMatches(version) : WriteCondition.IfAbsent);
                    break;
                case 2:
                    await store.WriteAsync($"objects/{i % 5}", content, WriteCondition.None);
                    break;
                default:
                    await store.DeleteAsync($"parts/{seed}-{i - 3}");
                    break;
            }
        }
    }
}

[Trait("Provider", "Local")]
public sealed class CrashConsistencyTests : IDisposable
{
    private readonly TempDirectory _dir = new("crash");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AWriterKilledAtAnyInstant_LeavesOnlyWholeObjects()
    {
        string root = _dir.Combine("store");
        var random = new Random(20240601);
        for (int round = 1; round <= 4; round++)
        {
            using Process child = StartWriter(root, seed: round);
            try
            {
                string? line = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Equal("ready", line);
                await Task.Delay(random.Next(50, 400));
                if (child.HasExited)
                {
                    Assert.Fail($"the crash writer stopped by itself (exit code {child.ExitCode}): {await child.StandardError.ReadToEndAsync()}");
                }
            }
            finally
            {
                child.Kill(entireProcessTree: true); // SIGKILL on Unix
                await child.WaitForExitAsync();
            }

            // A fresh process (here: this one) finds only whole objects, and can write every key: no lock is stuck.
            var store = new LocalInputStateStore(new LocalStoreOptions { Path = root, LockTimeout = TimeSpan.FromSeconds(5) });
            await foreach (StoreObjectInfo info in store.ListAsync(string.Empty))
            {
                await using StoreReadResult? read = await store.ReadAsync(info.Key);
                Assert.NotNull(read);
                using var bytes = new MemoryStream();
                await read.Content.CopyToAsync(bytes);
                Assert.True(CrashWriter.IsIntact(bytes.ToArray()), $"round {round}: \"{info.Key}\" ({info.Length} bytes) is not a whole object");
                Assert.Equal(info.Length, bytes.Length);
            }

            await using (StoreReadResult? state = await store.ReadAsync("state"))
            {
                if (state is not null)
                {
                    await store.WriteAsync("state", new MemoryStream(CrashWriter.Frame([1, 2, 3])), WriteCondition.IfVersionMatches(state.Info.Version));
                }
            }

            await store.WriteAsync("objects/0", new MemoryStream(CrashWriter.Frame([4])), WriteCondition.None);
        }

        var final = new LocalInputStateStore(root);
        var ready = new List<string>();
        await foreach (StoreObjectInfo info in final.ListAsync("ready/"))
        {
            ready.Add(info.Key);
        }

        Assert.Equal(["ready/1", "ready/2", "ready/3", "ready/4"], ready.Order(StringComparer.Ordinal));
    }

    private static Process StartWriter(string root, int seed)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } fromSdk && File.Exists(fromSdk)
            ? fromSdk
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(CrashWriter).Assembly.Location);
        start.ArgumentList.Add(CrashWriter.Command);
        start.ArgumentList.Add(root);
        start.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Process.Start(start) ?? throw new InvalidOperationException("Could not start the crash writer.");
    }
}
