using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Cloud.Storage.V1;
using Google;
using Google.Apis.Auth.OAuth2;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>What is specific to the GCS store: names, generations, buckets, upload shapes, cancellation and credentials.</summary>
[Collection(GcsEmulatorGroup.Name)]
[Trait("Provider", "Gcs")]
public sealed class GcsStoreTests(GcsEmulatorFixture emulator)
{
    private const int KiB = 1024;
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Write_ReturnsTheObjectsGeneration_AsADecimalVersion()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        GcsInputStateStore store = emulator.Store(bucket);
        string key = Key("object");

        StoreVersion version = await store.WriteAsync(key, Bytes.Text("content"), WriteCondition.IfAbsent);

        JsonElement? resource = await emulator.GetObjectAsync(bucket, key);
        Assert.NotNull(resource);
        Assert.Equal(resource.Value.GetProperty("generation").GetString(), version.Value);
        Assert.True(long.Parse(version.Value, NumberStyles.None, CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task Prefix_IsNormalised_AndEveryKeyIsStoredUnderIt()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        string root = Key("team");
        GcsInputStateStore store = emulator.Store(bucket, o => o.Prefix = "/" + root + "/run-1");
        GcsInputStateStore sibling = emulator.Store(bucket, o => o.Prefix = root + "/run-10/");

        await store.WriteAsync("a/b.bin", Bytes.Text("ab"), WriteCondition.IfAbsent);
        await store.WriteAsync("c", Bytes.Text("c"), WriteCondition.IfAbsent);
        await sibling.WriteAsync("a/b.bin", Bytes.Text("other"), WriteCondition.IfAbsent);

        Assert.Equal(root + "/run-1/", store.Prefix);
        Assert.Equal([root + "/run-1/a/b.bin", root + "/run-1/c", root + "/run-10/a/b.bin"], (await emulator.ListNamesAsync(bucket, root + "/")).Order(StringComparer.Ordinal));
        Assert.Equal(["a/b.bin", "c"], await KeysAsync(store, string.Empty));
        Assert.Equal(["a/b.bin"], await KeysAsync(sibling, string.Empty));
        Assert.Equal("ab", await Bytes.ReadTextAsync(store, "a/b.bin"));
        Assert.True(await store.DeleteAsync("a/b.bin"));
        Assert.Equal("other", await Bytes.ReadTextAsync(sibling, "a/b.bin"));
    }

    [Fact]
    public async Task ObjectNames_ArePercentEncodedInPaths_SlashesIncluded()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder);
        string key = Key("dir with space") + "/a+b?c#d%e é.bin";

        await store.WriteAsync(key, Bytes.Text("x"), WriteCondition.IfAbsent);
        Assert.Equal("x", await Bytes.ReadTextAsync(store, key));
        Assert.True(await store.DeleteAsync(key));

        Assert.NotNull(Assert.Single(recorder.Requests, r => r.Method == HttpMethod.Get && r.Uri.AbsolutePath.Contains("/o/", StringComparison.Ordinal)));
        RecordedRequest delete = Assert.Single(recorder.Requests, r => r.Method == HttpMethod.Delete);
        Assert.EndsWith("/o/" + Uri.EscapeDataString(key), delete.Uri.AbsolutePath, StringComparison.Ordinal);
        Assert.Contains("%2F", delete.Uri.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, delete.Status);
    }

    [Fact]
    public async Task SmallContent_IsOneMultipartUpload_WithTheCreateOnlyPrecondition()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder);
        string key = Key("small");
        await store.ReadAsync(Key("warm-up")); // the bucket check happens once, before
        recorder.Clear();

        StoreVersion version = await store.WriteAsync(key, new TestSupport.NonSeekableStream(new MemoryStream(GeneratedStream.Bytes(300 * KiB, seed: 1))), WriteCondition.IfAbsent);
        StoreVersion replaced = await store.WriteAsync(key, Bytes.Text("v2"), WriteCondition.IfVersionMatches(version));

        Assert.Collection(
            recorder.Requests,
            r => Assert.Equal(("POST", "uploadType=multipart&ifGenerationMatch=0"), (r.Method.Method, r.Uri.Query.TrimStart('?'))),
            r => Assert.Equal(("POST", $"uploadType=multipart&ifGenerationMatch={version}"), (r.Method.Method, r.Uri.Query.TrimStart('?'))));
        Assert.Equal("v2", await Bytes.ReadTextAsync(store, key));
        Assert.NotEqual(version, replaced);
    }

    [Fact]
    public async Task LargeContent_OfUnknownLength_GoesThroughAResumableSession_InChunksOfTheConfiguredSize()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder); // the defaults: 8 MiB in one request, 8 MiB chunks
        string key = Key("large");
        await store.ReadAsync(Key("warm-up"));
        recorder.Clear();
        const int Size = (20 * MiB) + 5;

        StoreVersion version;
        using (var content = new GeneratedStream(Size, seed: 2, seekable: false))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        Assert.Collection(
            recorder.Requests,
            r => Assert.Equal(("POST", "uploadType=resumable&ifGenerationMatch=0"), (r.Method.Method, r.Uri.Query.TrimStart('?'))),
            r => Assert.Equal(("PUT", "bytes 0-8388607/*", (HttpStatusCode)308), (r.Method.Method, r.ContentRange, r.Status!.Value)),
            r => Assert.Equal(("PUT", "bytes 8388608-16777215/*", (HttpStatusCode)308), (r.Method.Method, r.ContentRange, r.Status!.Value)),
            r => Assert.Equal(("PUT", $"bytes 16777216-{Size - 1}/{Size}", HttpStatusCode.OK), (r.Method.Method, r.ContentRange, r.Status!.Value)));
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal((Size, version), (read.Info.Length, read.Info.Version));
        Assert.Equal(GeneratedStream.Hash(Size, seed: 2), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task ContentOfExactlyWholeChunks_EndsWithAFinalChunk_NotAnEmptyRequest()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder, o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 512 * KiB;
        });
        string key = Key("whole-chunks");
        await store.ReadAsync(Key("warm-up"));
        recorder.Clear();

        await store.WriteAsync(key, new GeneratedStream(MiB, seed: 3, seekable: false), WriteCondition.None);

        Assert.Equal(
            ["POST ", "PUT bytes 0-524287/*", "PUT bytes 524288-1048575/1048576"],
            recorder.Requests.Select(r => $"{r.Method} {r.ContentRange}"));
        Assert.Equal(GeneratedStream.Bytes(MiB, seed: 3), await ContentAsync(bucket, key));
    }

    [Fact]
    public async Task ContentOfUnknownLength_IsReadNoFurtherThanOneChunkAheadOfWhatTheSessionConfirmed()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder, o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 256 * KiB;
        });
        string key = Key("bounded");
        await store.ReadAsync(Key("warm-up"));
        recorder.Clear();
        int? answeredPutsWhenTheThirdChunkWasRead = null;
        using var content = new TriggerStream(MiB, seed: 12, triggerAfter: (512 * KiB) + 2, () =>
        {
            answeredPutsWhenTheThirdChunkWasRead = recorder.Requests.Count(r => r.Method == HttpMethod.Put);
            return Task.CompletedTask;
        });

        await store.WriteAsync(key, content, WriteCondition.IfAbsent);

        // The threshold's buffer (and one byte to learn the content goes on) and one chunk (and one byte to learn
        // whether it is the last) are all a write holds: reading further waits for the first chunk's answer.
        Assert.True(answeredPutsWhenTheThirdChunkWasRead >= 1, $"{answeredPutsWhenTheThirdChunkWasRead} chunks were answered when the content was read past two chunks");
        Assert.Equal(
            ["POST ", "PUT bytes 0-262143/*", "PUT bytes 262144-524287/*", "PUT bytes 524288-786431/*", "PUT bytes 786432-1048575/1048576"],
            recorder.Requests.Select(r => $"{r.Method} {r.ContentRange}"));
        Assert.Equal(GeneratedStream.Hash(MiB, seed: 12), SHA256.HashData(await ContentAsync(bucket, key)));
    }

    [Fact]
    public async Task SeekableContent_AboveTheThreshold_IsSentFromItsPosition_InChunksOfTheConfiguredSize()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder, o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 512 * KiB;
        });
        string key = Key("known-length");
        const int Size = MiB + 3;
        await store.ReadAsync(Key("warm-up"));
        recorder.Clear();

        using var content = new GeneratedStream(Size + 10, seed: 5) { Position = 10 };
        StoreVersion version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);

        Assert.Equal(
            ["POST ", "PUT bytes 0-524287/*", "PUT bytes 524288-1048575/*", "PUT bytes 1048576-1048578/1048579"],
            recorder.Requests.Select(r => $"{r.Method} {r.ContentRange}"));
        Assert.Equal(version.Value, (await emulator.GetObjectAsync(bucket, key))!.Value.GetProperty("generation").GetString());
        Assert.Equal(GeneratedStream.Hash(Size + 10, seed: 5, offset: 10), SHA256.HashData(await ContentAsync(bucket, key)));
    }

    [Fact]
    public async Task SeekableContent_UpToTheThreshold_IsOneRequest_AndAboveItAResumableSession()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder, o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = MiB;
        });
        await store.ReadAsync(Key("warm-up"));
        recorder.Clear();

        using (var content = new GeneratedStream(256 * KiB, seed: 6))
        {
            await store.WriteAsync(Key("at-threshold"), content, WriteCondition.None);
        }

        using (var content = new GeneratedStream((2 * MiB) + 1, seed: 7))
        {
            await store.WriteAsync(Key("above"), content, WriteCondition.None);
        }

        Assert.Equal(
            ["POST multipart", "POST resumable", "PUT bytes 0-1048575/*", "PUT bytes 1048576-2097151/*", "PUT bytes 2097152-2097152/2097153"],
            recorder.Requests.Select(r => $"{r.Method} {(r.Method == HttpMethod.Post ? r.Uri.Query.Split('&')[0].Split('=')[1] : r.ContentRange)}"));
    }

    [Fact]
    public async Task TransferValidation_SendsTheMd5_WhichTheServiceChecksBeforeTheObjectExists()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        GcsInputStateStore store = emulator.Store(bucket, o =>
        {
            o.TransferValidation = true;
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 256 * KiB;
        });
        byte[] small = GeneratedStream.Bytes(100 * KiB, seed: 8);
        byte[] large = GeneratedStream.Bytes((600 * KiB) + 1, seed: 9);
        string smallKey = Key("small"), largeKey = Key("large");

        await store.WriteAsync(smallKey, new MemoryStream(small), WriteCondition.IfAbsent);
        await store.WriteAsync(largeKey, new TestSupport.NonSeekableStream(new MemoryStream(large)), WriteCondition.IfAbsent);

#pragma warning disable CA5351 // MD5 is what Cloud Storage keeps for an object (md5Hash).
        Assert.Equal(Convert.ToBase64String(MD5.HashData(small)), (await emulator.GetObjectAsync(bucket, smallKey))!.Value.GetProperty("md5Hash").GetString());
        Assert.Equal(Convert.ToBase64String(MD5.HashData(large)), (await emulator.GetObjectAsync(bucket, largeKey))!.Value.GetProperty("md5Hash").GetString());
#pragma warning restore CA5351
        Assert.Equal(small, await ContentAsync(bucket, smallKey));
        Assert.Equal(large, await ContentAsync(bucket, largeKey));
    }

    [Fact]
    public async Task CancellationDuringAResumableUpload_CancelsTheSession_AndLeavesNoObject()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder, o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 256 * KiB;
        });
        string key = Key("cancelled");
        using var source = new CancellationTokenSource();
        using var content = new CancellingStream(length: 4L * MiB, cancelAfter: MiB, source);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync(key, content, WriteCondition.IfAbsent, source.Token));

        RecordedRequest start = Assert.Single(recorder.Requests, r => r.Method == HttpMethod.Post);
        Assert.Contains("uploadType=resumable", start.Uri.Query, StringComparison.Ordinal);
        Assert.Contains(recorder.Requests, r => r.Method == HttpMethod.Put && r.Status == (HttpStatusCode)308);
        RecordedRequest cancel = Assert.Single(recorder.Requests, r => r.Method == HttpMethod.Delete);
        Assert.Contains("upload_id=", cancel.Uri.Query, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode)499, cancel.Status);
        Assert.Null(await emulator.GetObjectAsync(bucket, key));
        using HttpResponseMessage gone = await emulator.Http.PutAsync(cancel.Uri, new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task AnObjectCreatedDuringAResumableCreateOnlyUpload_MakesItAConflict_AndKeepsTheOtherObject()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        GcsInputStateStore store = emulator.RecordedStore(bucket, recorder, o =>
        {
            o.ResumableThreshold = 256 * KiB;
            o.ChunkSize = 256 * KiB;
        });
        GcsInputStateStore other = emulator.Store(bucket);
        string key = Key("raced");
        using var content = new TriggerStream(2 * MiB, seed: 4, triggerAfter: MiB, () => other.WriteAsync(key, Bytes.Text("the other writer"), WriteCondition.IfAbsent));

        var conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, content, WriteCondition.IfAbsent));

        Assert.Equal(WriteConditionKind.IfAbsent, conflict.Condition.Kind);
        Assert.Equal(HttpStatusCode.PreconditionFailed, Assert.IsType<GoogleApiException>(conflict.InnerException).HttpStatusCode);
        Assert.Equal("the other writer", await Bytes.ReadTextAsync(store, key));
        Assert.Equal((HttpStatusCode)412, recorder.Requests.Last(r => r.Method == HttpMethod.Put).Status);
        Assert.Single(recorder.Requests, r => r.Method == HttpMethod.Delete);
    }

    [Fact]
    public async Task Read_ReturnsTheVersionOfExactlyTheContentItReturns()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        GcsInputStateStore store = emulator.Store(bucket);
        string key = Key("replaced");
        byte[] first = GeneratedStream.Bytes(2 * MiB, seed: 5);
        StoreVersion firstVersion = await store.WriteAsync(key, new MemoryStream(first), WriteCondition.IfAbsent);

        await using StoreReadResult? read = await store.ReadAsync(key, offset: 100);
        StoreVersion secondVersion = await store.WriteAsync(key, Bytes.Text("second"), WriteCondition.IfVersionMatches(firstVersion));

        Assert.NotNull(read);
        Assert.Equal(firstVersion, read.Info.Version);
        Assert.Equal(first.Length, read.Info.Length);
        Assert.Equal(first.AsSpan(100).ToArray(), await Bytes.ReadAllAsync(read.Content));
        Assert.NotEqual(firstVersion, secondVersion);
    }

    [Fact]
    public async Task VersionsThatAreNotGenerations_NeverMatch()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        GcsInputStateStore store = emulator.Store(bucket);
        string key = Key("object");
        await store.WriteAsync(key, Bytes.Text("x"), WriteCondition.IfAbsent);
        var foreign = new StoreVersion("0x8DC0FFEE");

        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Bytes.Text("y"), WriteCondition.IfVersionMatches(foreign)));
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.DeleteAsync(key, foreign));
        Assert.False(await store.DeleteAsync(Key("missing"), foreign));
        Assert.Equal("x", await Bytes.ReadTextAsync(store, key));
    }

    [Fact]
    public async Task MissingBucket_WithCreateBucketIfMissingOff_FailsEveryCallNamingTheBucket()
    {
        string bucket = GcsEmulatorFixture.NewBucketName();
        GcsInputStateStore store = emulator.Store(bucket);

        var write = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent));
        var read = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k"));
        var delete = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("k"));
        var list = await Assert.ThrowsAsync<CheckpointStoreException>(async () => await KeysAsync(store, string.Empty));

        Assert.All([write, read, delete, list], ex =>
        {
            Assert.Equal("Gcs", ex.ProviderName);
            Assert.Contains($"\"{bucket}\" does not exist", ex.Message, StringComparison.Ordinal);
            Assert.Contains("CreateBucketIfMissing", ex.Message, StringComparison.Ordinal);
        });
        Assert.Equal("k", write.Key);
        Assert.False(await emulator.BucketExistsAsync(bucket));
    }

    [Fact]
    public async Task MissingBucket_WithCreateBucketIfMissingOn_IsCreatedOnFirstUse()
    {
        string bucket = GcsEmulatorFixture.NewBucketName();
        emulator.Track(bucket);
        GcsInputStateStore first = emulator.Store(bucket, o =>
        {
            o.CreateBucketIfMissing = true;
            o.ProjectId = "ipc-tests";
        });
        GcsInputStateStore second = emulator.Store(bucket, o =>
        {
            o.CreateBucketIfMissing = true;
            o.ProjectId = "ipc-tests";
        });

        StoreVersion version = await first.WriteAsync("k", Bytes.Text("created"), WriteCondition.IfAbsent);

        Assert.True(await emulator.BucketExistsAsync(bucket));
        Assert.Equal("created", await Bytes.ReadTextAsync(second, "k"));
        Assert.Equal(version, Assert.Single(await ListAsync(second, string.Empty)).Version);
    }

    [Fact]
    public async Task ABucketDeletedAfterFirstUse_FailsNamingTheBucket()
    {
        string bucket = await emulator.CreateBucketAsync();
        GcsInputStateStore store = emulator.Store(bucket);
        await store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent);
        Assert.True(await store.DeleteAsync("k"));
        using (HttpResponseMessage deleted = await emulator.Http.DeleteAsync($"storage/v1/b/{bucket}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var read = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k"));
        var again = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Bytes.Text("x"), WriteCondition.IfAbsent));

        Assert.Contains($"\"{bucket}\" does not exist", read.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{bucket}\" does not exist", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnonymousStore_SendsNoCredentials()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var options = emulator.Options(bucket);
        var recorder = new RecordingHandler();
        using var store = new GcsInputStateStore(options, null, new RecordingClientFactory(recorder));

        await store.WriteAsync(Key("anonymous"), Bytes.Text("x"), WriteCondition.IfAbsent);

        Assert.True(options.IsAnonymous());
        Assert.NotEmpty(recorder.Requests);
        Assert.All(recorder.Requests, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task ServiceAccountKeyFile_AuthenticatesEveryRequest_WithATokenSignedByItsKey()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        using var tokens = new FakeTokenServer("token-from-key-file");
        using var dir = new TempDirectory("gcs-sa");
        string keyFile = ServiceAccountKeyFile.Write(dir.Combine("sa.json"), tokens.TokenUri);
        GcsStoreOptions options = emulator.Options(bucket, o => o.CredentialsFile = keyFile);
        var recorder = new RecordingHandler();
        using var store = new GcsInputStateStore(options, null, new RecordingClientFactory(recorder));
        string key = Key("authenticated");

        await store.WriteAsync(key, new GeneratedStream(9 * MiB, seed: 6, seekable: false), WriteCondition.IfAbsent);
        await using (StoreReadResult? read = await store.ReadAsync(key))
        {
            Assert.NotNull(read);
        }

        Assert.False(options.IsAnonymous());
        Assert.Contains(recorder.Requests, r => r.Method == HttpMethod.Put); // the session URI is on the same host: it gets the token too
        Assert.Contains(recorder.Requests, r => r.Uri.Query.Contains("alt=media", StringComparison.Ordinal)); // the store's own GET too
        // The client library signs its own tokens with the key (self-signed JWTs, no round trip to the token endpoint).
        Assert.All(recorder.Requests, r => Assert.Equal(("0123456789abcdef", "ipc-tests@ipc-tests.iam.gserviceaccount.com"), ServiceAccountKeyFile.SignerOf(r.Authorization)));
    }

    [Fact]
    public async Task AKeyFileThatIsNotAServiceAccount_FailsWithAStoreException_NotASdkException()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        using var dir = new TempDirectory("gcs-user");
        string file = dir.Combine("user.json");
        await File.WriteAllTextAsync(file, """{"type":"authorized_user","client_id":"x","client_secret":"do-not-show","refresh_token":"y"}""");
        using var store = new GcsInputStateStore(emulator.Options(bucket, o => o.CredentialsFile = file));

        var ex = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k"));

        Assert.Contains(file, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("do-not-show", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public async Task AnExplicitCredential_IsUsedInsteadOfTheOptions()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        GcsStoreOptions options = emulator.Options(bucket, o => o.Anonymous = false);
        var recorder = new RecordingHandler();
        using var store = new GcsInputStateStore(options, GoogleCredential.FromAccessToken("explicit-token"), new RecordingClientFactory(recorder));

        await store.WriteAsync(Key("explicit"), Bytes.Text("x"), WriteCondition.IfAbsent);
        await store.WriteAsync(Key("explicit-large"), new GeneratedStream(9 * MiB, seed: 13, seekable: false), WriteCondition.IfAbsent);

        Assert.Contains(recorder.Requests, r => r.Method == HttpMethod.Put);
        Assert.All(recorder.Requests, r => Assert.Equal("Bearer explicit-token", r.Authorization));
    }

    [Fact]
    public async Task AClientOfTheApplication_IsUsed_AndNotDisposedWithTheStore()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        var recorder = new RecordingHandler();
        using StorageClient client = Clients.For(emulator.BaseUri, recorder, GoogleCredential.FromAccessToken("application-token"));
        string key = Key("application-client");
        var store = new GcsInputStateStore(client, emulator.Options(bucket, o => o.BaseUri = new Uri("http://127.0.0.1:1/")));

        await store.WriteAsync(key, Bytes.Text("x"), WriteCondition.IfAbsent);
        store.Dispose();
        Google.Apis.Storage.v1.Data.Object written = await client.GetObjectAsync(bucket, key);

        Assert.Equal(emulator.BaseUri, store.BaseUri);
        Assert.Equal((ulong?)1, written.Size); // the object the store wrote, read through the same client after the store was disposed
        Assert.All(recorder.Requests, r => Assert.Equal("Bearer application-token", r.Authorization));
    }

    [Fact]
    public async Task ToString_NamesTheBucketPrefixAndEndpoint()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreTests));
        GcsInputStateStore store = emulator.Store(bucket, o => o.Prefix = "p/q");

        Assert.Equal($"Gcs store gs://{bucket}/p/q/ at {emulator.BaseUri}", store.ToString());
        Assert.Equal("Gcs", store.ProviderName);
        Assert.Equal(emulator.BaseUri, store.BaseUri);
    }

    private static string Key(string name) => $"gcs-{Guid.NewGuid():N}/{name}";

    private async Task<byte[]> ContentAsync(string bucket, string name)
    {
        using HttpResponseMessage response = await emulator.Http.GetAsync($"storage/v1/b/{bucket}/o/{Uri.EscapeDataString(name)}?alt=media");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static async Task<List<StoreObjectInfo>> ListAsync(IInputStateStore store, string prefix)
    {
        var items = new List<StoreObjectInfo>();
        await foreach (StoreObjectInfo info in store.ListAsync(prefix))
        {
            items.Add(info);
        }

        return items;
    }

    private static async Task<string[]> KeysAsync(IInputStateStore store, string prefix) =>
        [.. (await ListAsync(store, prefix)).Select(i => i.Key).Order(StringComparer.Ordinal)];
}
