using System.Net;
using System.Security.Cryptography;
using Google;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>
/// Retries and failures: a store that is down, 503 and 429 answers and dropped connections from the emulator's fault
/// hook, and replies lost after a write took effect. Each test uses its own bucket, and its faults match only that
/// bucket's paths.
/// </summary>
[Collection(GcsEmulatorGroup.Name)]
[Trait("Provider", "Gcs")]
public sealed class GcsRetryTests(GcsEmulatorFixture emulator)
{
    private const int KiB = 1024;

    [Fact]
    public async Task StoreDown_EveryCallFailsWithAStoreException_AfterTheConfiguredRetries()
    {
        var options = new GcsStoreOptions
        {
            Bucket = "ipc-down",
            BaseUri = new Uri($"http://127.0.0.1:{FreePort.Get()}/"),
            MaxRetryAttempts = 3,
            RetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(20),
        };
        var recorder = new RecordingHandler();
        using var store = new GcsInputStateStore(options, null, new RecordingClientFactory(recorder));

        var write = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Bytes.Text("x"), WriteCondition.None));
        int attempts = recorder.Requests.Count;
        var read = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k"));
        var delete = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("k"));
        var list = await Assert.ThrowsAsync<CheckpointStoreException>(async () =>
        {
            await foreach (StoreObjectInfo _ in store.ListAsync(string.Empty))
            {
            }
        });

        Assert.Equal(4, attempts); // the first attempt and 3 retries of the bucket check; nothing after it
        Assert.All(recorder.Requests, r => Assert.Equal(nameof(HttpRequestException), r.Error));
        Assert.All([write, read, delete, list], ex =>
        {
            Assert.Equal("Gcs", ex.ProviderName);
            Assert.Contains("after 4 attempts", ex.Message, StringComparison.Ordinal);
            Assert.Contains(options.BaseUri.ToString(), ex.Message, StringComparison.Ordinal);
            Assert.IsType<HttpRequestException>(ex.InnerException);
        });
        Assert.Equal("k", write.Key);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(429)]
    [InlineData(408)]
    public async Task TransientStatuses_AreRetried_ThenTheCallSucceeds(int status)
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync();
        StoreVersion version = await store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent);
        recorder.Clear();

        await emulator.InjectFaultAsync(new { status, count = 2, path = $"/storage/v1/b/{bucket}/o/", method = "GET" });
        await using (StoreReadResult? read = await store.ReadAsync("k"))
        {
            Assert.Equal(version, read?.Info.Version);
        }

        await emulator.InjectFaultAsync(new { status, count = 2, path = $"/upload/storage/v1/b/{bucket}/o" });
        StoreVersion replaced = await store.WriteAsync("k", Bytes.Text("y"), WriteCondition.IfVersionMatches(version));

        await emulator.InjectFaultAsync(new { status, count = 2, path = $"/storage/v1/b/{bucket}/o", method = "GET" });
        Assert.Equal(["k"], await KeysAsync(store));

        await emulator.InjectFaultAsync(new { status, count = 2, path = $"/storage/v1/b/{bucket}/o/", method = "DELETE" });
        Assert.True(await store.DeleteAsync("k", replaced));

        Assert.Equal(0, await emulator.RemainingFaultUsesAsync());
        Assert.Equal(4 * 3, recorder.Requests.Count);
        Assert.Equal(4 * 2, recorder.Requests.Count(r => r.Status == (HttpStatusCode)status));
    }

    [Fact]
    public async Task Status503_BeyondTheRetries_FailsWithAStoreExceptionNamingTheStatus()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync();
        await store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent);
        recorder.Clear();
        await emulator.InjectFaultAsync(new { status = 503, count = 3, path = $"/storage/v1/b/{bucket}/o/", message = "the backend is resting" });

        var ex = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k"));

        Assert.Equal(3, recorder.Requests.Count);
        Assert.Contains("after 3 attempts", ex.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 503", ex.Message, StringComparison.Ordinal);
        Assert.Contains("the backend is resting", ex.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, Assert.IsType<GoogleApiException>(ex.InnerException).HttpStatusCode);
    }

    [Fact]
    public async Task Status503_OnAnUnconditionalWrite_IsNotRetried_ButA429Is()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync();
        await store.ReadAsync("warm-up");
        recorder.Clear();

        await emulator.InjectFaultAsync(new { status = 503, count = 1, path = $"/upload/storage/v1/b/{bucket}/o" });
        var ex = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Bytes.Text("x"), WriteCondition.None));
        Assert.Single(recorder.Requests);
        Assert.Contains("HTTP 503", ex.Message, StringComparison.Ordinal);

        recorder.Clear();
        await emulator.InjectFaultAsync(new { status = 429, count = 2, path = $"/upload/storage/v1/b/{bucket}/o" });
        await store.WriteAsync("k", Bytes.Text("y"), WriteCondition.None);
        Assert.Equal(3, recorder.Requests.Count);
        Assert.Equal("y", await Bytes.ReadTextAsync(store, "k"));

        recorder.Clear();
        await emulator.InjectFaultAsync(new { status = 503, count = 1, path = $"/storage/v1/b/{bucket}/o/", method = "DELETE" });
        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("k"));
        Assert.Single(recorder.Requests);
        Assert.Equal(0, await emulator.RemainingFaultUsesAsync());
    }

    [Fact]
    public async Task ADroppedConnection_IsRetried()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync();
        await store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent);
        recorder.Clear();
        await emulator.InjectFaultAsync(new { abort = true, count = 1, path = $"/storage/v1/b/{bucket}/o/", method = "GET" });

        Assert.Equal("x", await Bytes.ReadTextAsync(store, "k"));

        Assert.Equal(2, recorder.Requests.Count);
        Assert.Equal(nameof(HttpRequestException), recorder.Requests[0].Error);
    }

    [Fact]
    public async Task AnAttemptThatTimesOut_IsRetried_AndTimeoutsBeyondTheRetriesFailTheCall()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync(o => o.AttemptTimeout = TimeSpan.FromMilliseconds(300));
        await store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent);
        recorder.Clear();

        await emulator.InjectFaultAsync(new { status = 503, count = 1, delayMs = 10_000, path = $"/storage/v1/b/{bucket}/o/", method = "GET" });
        Assert.Equal("x", await Bytes.ReadTextAsync(store, "k"));
        Assert.Equal([nameof(TaskCanceledException), null], recorder.Requests.Select(r => r.Error));

        await emulator.InjectFaultAsync(new { status = 503, count = 3, delayMs = 10_000, path = $"/storage/v1/b/{bucket}/o/", method = "GET" });
        var ex = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k"));
        Assert.Contains("after 3 attempts", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AttemptTimeout", ex.Message, StringComparison.Ordinal);
        Assert.IsType<Polly.Timeout.TimeoutRejectedException>(ex.InnerException);
    }

    [Fact]
    public async Task ALostReplyToACreateOnlyWrite_IsRetried_AndReportsTheConflictItMeets()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync();
        await store.ReadAsync("warm-up");
        recorder.Clear();
        await emulator.InjectFaultAsync(new { status = 503, count = 1, after = true, path = $"/upload/storage/v1/b/{bucket}/o" });

        var conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync("k", Bytes.Text("mine"), WriteCondition.IfAbsent));

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.PreconditionFailed], recorder.Requests.Select(r => r.Status!.Value));
        Assert.Equal(WriteConditionKind.IfAbsent, conflict.Condition.Kind);
        Assert.Equal("mine", await Bytes.ReadTextAsync(store, "k"));
    }

    [Fact]
    public async Task ALostReplyToACommit_IsConfirmedByTheCheckpointManager()
    {
        (string bucket, GcsInputStateStore store, _) = await StoreAsync();
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" });
        await manager.SaveAsync(1, [new("s", CheckpointSnapshots.CopyOf([1]))]);
        StoreVersion state;
        await using (StoreReadResult? read = await store.ReadAsync(manager.StateFileKey))
        {
            state = read!.Info.Version;
        }

        // Only the compare-and-swap of the state file carries ifGenerationMatch=<its generation>.
        await emulator.InjectFaultAsync(new { status = 503, count = 1, after = true, path = $"/upload/storage/v1/b/{bucket}/o", query = $"ifGenerationMatch={state}" });
        CheckpointReference saved = await manager.SaveAsync(2, [new("s", CheckpointSnapshots.CopyOf([2]))]);

        Assert.Equal(0, await emulator.RemainingFaultUsesAsync());
        Assert.Equal(2, saved.Step);
        Assert.False(manager.IsOwnershipLost);
        using var reader = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input" });
        Assert.Equal([2L, 1L], (await reader.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task AFailedChunk_IsResumedFromWhatTheSessionHolds_AndTheUploadCompletesIntact()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync(o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 256 * KiB;
            o.MaxRetryAttempts = 3;
        });
        await store.ReadAsync("warm-up");
        recorder.Clear();
        const int Size = (1024 * KiB) + 7;
        string session = $"/upload/storage/v1/b/{bucket}/o";
        await emulator.InjectFaultAsync(new[]
        {
            // The first chunk lands but its reply is lost; the status query that follows fails before it is processed.
            new { status = 502, count = 1, after = true, path = session, method = "PUT" },
            new { status = 503, count = 1, after = false, path = session, method = "PUT" },
        });

        StoreVersion version = await store.WriteAsync("big", new GeneratedStream(Size, seed: 9, seekable: false), WriteCondition.IfAbsent);

        Assert.Equal(0, await emulator.RemainingFaultUsesAsync());
        string[] puts = [.. recorder.Requests.Where(r => r.Method == HttpMethod.Put).Select(r => $"{r.ContentRange} {(int)r.Status!.Value}")];
        Assert.Equal(
            ["bytes 0-262143/* 502", "bytes */* 503", "bytes */* 308", "bytes 262144-524287/* 308", "bytes 524288-786431/* 308", "bytes 786432-1048575/* 308", $"bytes 1048576-{Size - 1}/{Size} 200"],
            puts);
        await using StoreReadResult? read = await store.ReadAsync("big");
        Assert.Equal((Size, version), (read!.Info.Length, read.Info.Version));
        Assert.Equal(GeneratedStream.Hash(Size, seed: 9), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task AFailedChunkOfSeekableContent_IsResumedFromWhatTheSessionHolds()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync(o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 512 * KiB;
            o.MaxRetryAttempts = 3;
        });
        await store.ReadAsync("warm-up");
        recorder.Clear();
        const int Size = (1024 * KiB) + 7;
        string session = $"/upload/storage/v1/b/{bucket}/o";
        await emulator.InjectFaultAsync(new[]
        {
            // The first request lands but its reply is lost; the status query that follows fails before it is processed.
            new { status = 502, count = 1, after = true, path = session, method = "PUT" },
            new { status = 503, count = 1, after = false, path = session, method = "PUT" },
        });

        using var content = new GeneratedStream(Size, seed: 19);
        StoreVersion version = await store.WriteAsync("known", content, WriteCondition.IfAbsent);

        Assert.Equal(0, await emulator.RemainingFaultUsesAsync());
        string[] puts = [.. recorder.Requests.Where(r => r.Method == HttpMethod.Put).Select(r => $"{r.ContentRange} {(int)r.Status!.Value}")];
        Assert.Equal(
            ["bytes 0-524287/* 502", "bytes */* 503", "bytes */* 308", "bytes 524288-1048575/* 308", $"bytes 1048576-{Size - 1}/{Size} 200"],
            puts);
        await using StoreReadResult? read = await store.ReadAsync("known");
        Assert.Equal((Size, version), (read!.Info.Length, read.Info.Version));
        Assert.Equal(GeneratedStream.Hash(Size, seed: 19), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task ALostReplyToTheFinalChunk_IsAnsweredByAStatusQuery_WithTheObject()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync(o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 512 * KiB;
        });
        await store.ReadAsync("warm-up");
        recorder.Clear();
        const int Size = 300 * KiB; // above the threshold, within one chunk: the session's only chunk is the final one
        await emulator.InjectFaultAsync(new { status = 503, count = 1, after = true, path = $"/upload/storage/v1/b/{bucket}/o", method = "PUT" });

        StoreVersion version = await store.WriteAsync("final", new GeneratedStream(Size, seed: 11, seekable: false), WriteCondition.IfAbsent);

        string[] puts = [.. recorder.Requests.Where(r => r.Method == HttpMethod.Put).Select(r => $"{r.ContentRange} {(int)r.Status!.Value}")];
        Assert.Equal([$"bytes 0-{Size - 1}/{Size} 503", $"bytes */{Size} 200"], puts);
        Assert.Equal(version.Value, (await emulator.GetObjectAsync(bucket, "final"))!.Value.GetProperty("generation").GetString());
        Assert.DoesNotContain(recorder.Requests, r => r.Method == HttpMethod.Delete);
    }

    [Fact]
    public async Task AFailedSessionStart_IsRetried()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync(o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 256 * KiB;
        });
        await store.ReadAsync("warm-up");
        recorder.Clear();
        await emulator.InjectFaultAsync(new { status = 500, count = 2, path = $"/upload/storage/v1/b/{bucket}/o", method = "POST", query = "uploadType=resumable" });

        await store.WriteAsync("big", new GeneratedStream(600 * KiB, seed: 10, seekable: false), WriteCondition.None);

        Assert.Equal(3, recorder.Requests.Count(r => r.Method == HttpMethod.Post));
        Assert.Equal(GeneratedStream.Hash(600 * KiB, seed: 10), SHA256.HashData(await ContentAsync(store, "big")));
    }

    [Fact]
    public async Task ALostReplyToAConditionalDelete_IsRetried_AndTheObjectItDeletedCountsAsDeleted()
    {
        (string bucket, GcsInputStateStore store, RecordingHandler recorder) = await StoreAsync();
        StoreVersion version = await store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent);
        recorder.Clear();
        await emulator.InjectFaultAsync(new { status = 503, count = 1, after = true, path = $"/storage/v1/b/{bucket}/o/", method = "DELETE" });

        Assert.True(await store.DeleteAsync("k", version));

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.NotFound], recorder.Requests.Select(r => r.Status!.Value));
        Assert.Null(await emulator.GetObjectAsync(bucket, "k"));
        Assert.False(await store.DeleteAsync("k", version)); // a first attempt that finds nothing: nothing was deleted
    }

    private async Task<(string Bucket, GcsInputStateStore Store, RecordingHandler Recorder)> StoreAsync(Action<GcsStoreOptions>? configure = null)
    {
        string bucket = await emulator.CreateBucketAsync();
        var recorder = new RecordingHandler();
        return (bucket, emulator.RecordedStore(bucket, recorder, configure), recorder);
    }

    private static async Task<byte[]> ContentAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult? read = await store.ReadAsync(key);
        return await Bytes.ReadAllAsync(read!.Content);
    }

    private static async Task<string[]> KeysAsync(IInputStateStore store)
    {
        var keys = new List<string>();
        await foreach (StoreObjectInfo info in store.ListAsync(string.Empty))
        {
            keys.Add(info.Key);
        }

        return [.. keys];
    }
}
