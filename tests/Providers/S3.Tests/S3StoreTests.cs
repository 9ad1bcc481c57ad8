using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.S3.Tests;

/// <summary>What the S3 store adds to the contract: key mapping, multipart uploads without debris, encryption, error translation.</summary>
[Trait("Provider", "S3")]
[Collection(MotoGroup.Name)]
public sealed class S3StoreTests(MotoFixture moto)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Prefix_PutsObjectsUnderIt_AndListingStripsItAndSkipsFolderMarkers()
    {
        string bucket = await moto.BucketAsync("store");
        string root = $"jobs-{Guid.NewGuid():N}";
        S3InputStateStore store = moto.CreateStore(moto.Options(bucket, prefix: "/" + root));
        S3InputStateStore sibling = moto.CreateStore(moto.Options(bucket, prefix: root + "-other/"));

        StoreVersion version = await store.WriteAsync("input.ckpt-1.manifest", Text("m"), WriteCondition.IfAbsent);
        await moto.Client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = root + "/folder/", ContentBody = string.Empty });

        Assert.Equal(root + "/", store.Prefix);
        GetObjectMetadataResponse raw = await moto.Client.GetObjectMetadataAsync(bucket, root + "/input.ckpt-1.manifest");
        Assert.Equal(version.Value, raw.ETag);
        StoreObjectInfo listed = Assert.Single(await ListAsync(store, string.Empty));
        Assert.Equal(("input.ckpt-1.manifest", version), (listed.Key, listed.Version));
        Assert.Empty(await ListAsync(sibling, string.Empty));
        Assert.Null(await sibling.ReadAsync("input.ckpt-1.manifest"));
    }

    [Fact]
    public async Task Versions_AreTheQuotedETagsS3Reports()
    {
        S3InputStateStore store = moto.CreateStore(moto.Options(await moto.BucketAsync("store")));
        string key = NewKey();

        StoreVersion version = await store.WriteAsync(key, Text("etag"), WriteCondition.None);

        GetObjectMetadataResponse raw = await moto.Client.GetObjectMetadataAsync(store.BucketName, key);
        Assert.Equal(raw.ETag, version.Value);
        Assert.StartsWith("\"", version.Value, StringComparison.Ordinal);
#pragma warning disable CA5351 // S3's ETag of a single-request upload is the content's MD5.
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes("etag")))}\"", version.Value);
#pragma warning restore CA5351
    }

    [Fact]
    public async Task ConflictExceptions_KeepTheSdkExceptionInside()
    {
        S3InputStateStore store = moto.CreateStore(moto.Options(await moto.BucketAsync("store")));
        string key = NewKey();
        StoreVersion first = await store.WriteAsync(key, Text("one"), WriteCondition.IfAbsent);
        await store.WriteAsync(key, Text("two"), WriteCondition.IfVersionMatches(first));

        var exists = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Text("x"), WriteCondition.IfAbsent));
        var stale = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Text("x"), WriteCondition.IfVersionMatches(first)));
        var missing = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(NewKey(), Text("x"), WriteCondition.IfVersionMatches(first)));

        Assert.Equal(HttpStatusCode.PreconditionFailed, Assert.IsType<AmazonS3Exception>(exists.InnerException).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, Assert.IsType<AmazonS3Exception>(stale.InnerException).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, Assert.IsType<AmazonS3Exception>(missing.InnerException).StatusCode);
        Assert.Equal("S3", exists.ProviderName);
    }

    [Fact]
    public async Task MultipartUpload_CancelledMidway_LeavesNoObjectAndNoUpload()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string key = NewKey();
        using var source = new CancellationTokenSource();
        using var content = new CancellingStream(length: 30L * MiB, cancelAfter: 17L * MiB, source);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteAsync(key, content, WriteCondition.IfAbsent, source.Token));

        Assert.True(content.Cancelled);
        Assert.Null(await store.ReadAsync(key));
        Assert.Empty(await moto.MultipartUploadsAsync(bucket, key));
    }

    [Fact]
    public async Task MultipartUpload_WhenTheContentFails_RethrowsItAndLeavesNoUpload()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string key = NewKey();
        using var content = TriggerStream.Throwing(length: 30L * MiB, failAfter: 12L * MiB);

        var failure = await Assert.ThrowsAsync<IOException>(() => store.WriteAsync(key, content, WriteCondition.None));

        Assert.Equal("The content producer failed.", failure.Message);
        Assert.Null(await store.ReadAsync(key));
        Assert.Empty(await moto.MultipartUploadsAsync(bucket, key));
    }

    [Fact]
    public async Task MultipartUpload_CreateOnly_WhenAnotherWriterCreatesTheKeyDuringTheUpload_ConflictsAtCompletionAndLeavesNoUpload()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string key = NewKey();
        StoreVersion? other = null;
        using var content = new TriggerStream(18L * MiB, 12L * MiB, async () => other = await store.WriteAsync(key, Text("the other writer"), WriteCondition.IfAbsent));

        var conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, content, WriteCondition.IfAbsent));

        Assert.Equal(WriteConditionKind.IfAbsent, conflict.Condition.Kind);
        Assert.Equal(HttpStatusCode.PreconditionFailed, Assert.IsType<AmazonS3Exception>(conflict.InnerException).StatusCode);
        Assert.NotNull(other);
        Assert.Equal(("the other writer", other.Value), await ReadTextAsync(store, key));
        Assert.Empty(await moto.MultipartUploadsAsync(bucket, key));
    }

    [Fact]
    public async Task MultipartUpload_CompareAndSwap_ReplacesWithTheCurrentVersion_AndRejectsAStaleOneBeforeUploading()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string key = NewKey();
        StoreVersion first = await store.WriteAsync(key, Text("small"), WriteCondition.IfAbsent);
        long size = (11L * MiB) + 5;

        StoreVersion second;
        using (var content = new GeneratedStream(size, seed: 4, seekable: false))
        {
            second = await store.WriteAsync(key, content, WriteCondition.IfVersionMatches(first));
        }

        using var stale = new GeneratedStream(size, seed: 5, seekable: false);
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, stale, WriteCondition.IfVersionMatches(first)));

        Assert.InRange(stale.BytesRead, 1, 2L * S3StoreOptions.MinPartSize); // it stopped once it knew the upload is multipart
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal((size, second), (read.Info.Length, read.Info.Version));
        Assert.Equal(GeneratedStream.Hash(size, seed: 4), await SHA256.HashDataAsync(read.Content));
        Assert.Empty(await moto.MultipartUploadsAsync(bucket, key));
    }

    [Fact]
    public async Task MultipartUpload_CompareAndSwap_WhenTheObjectChangesMeanwhile_ConflictsAndLeavesNoUpload()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string key = NewKey();
        StoreVersion first = await store.WriteAsync(key, Text("first"), WriteCondition.IfAbsent);
        StoreVersion? other = null;
        using var content = new TriggerStream(18L * MiB, 12L * MiB, async () => other = await store.WriteAsync(key, Text("changed"), WriteCondition.None));

        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, content, WriteCondition.IfVersionMatches(first)));

        Assert.Equal(("changed", other!.Value), await ReadTextAsync(store, key));
        Assert.Empty(await moto.MultipartUploadsAsync(bucket, key));
    }

    [Fact]
    public async Task LargeNonSeekableUpload_HoldsOnlyAFewPartsInMemory()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string key = NewKey();
        const long Size = 160L * MiB;
        using (var warmUp = new GeneratedStream(12L * MiB, seed: 1, seekable: false))
        {
            await store.WriteAsync(NewKey(), warmUp, WriteCondition.None); // rents the pooled buffers once
        }

        long before = GC.GetTotalAllocatedBytes(precise: true);
        StoreVersion version;
        using (var content = new GeneratedStream(Size, seed: 6, seekable: false))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // Buffering the content would allocate at least its 160 MiB; the store holds three 5 MiB buffers at most.
        Assert.True(allocated < 64L * MiB, $"the upload allocated {allocated / MiB} MiB");
        GetObjectMetadataResponse head = await moto.Client.GetObjectMetadataAsync(bucket, key);
        Assert.Equal((Size, version.Value), (head.ContentLength, head.ETag));
        Assert.EndsWith("-32\"", head.ETag, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContentOfExactlyTheThreshold_IsOnePut_AndOneByteMoreIsMultipart()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3InputStateStore store = moto.CreateStore(SmallParts(bucket));
        string single = NewKey();
        string multi = NewKey();

        using (var content = new GeneratedStream(S3StoreOptions.MinPartSize, seed: 8, seekable: false))
        {
            await store.WriteAsync(single, content, WriteCondition.IfAbsent);
        }

        using (var content = new GeneratedStream(S3StoreOptions.MinPartSize + 1, seed: 9, seekable: false))
        {
            await store.WriteAsync(multi, content, WriteCondition.IfAbsent);
        }

        GetObjectMetadataResponse singleHead = await moto.Client.GetObjectMetadataAsync(bucket, single);
        GetObjectMetadataResponse multiHead = await moto.Client.GetObjectMetadataAsync(bucket, multi);
        Assert.DoesNotContain("-", singleHead.ETag, StringComparison.Ordinal);
        Assert.EndsWith("-2\"", multiHead.ETag, StringComparison.Ordinal); // a multipart ETag: "<md5 of part md5s>-<part count>"
        Assert.Equal(S3StoreOptions.MinPartSize + 1, multiHead.ContentLength);
    }

    [Fact]
    public async Task SeekableContent_IsOnePutUpToTheSeekableThreshold_AndAMultipartUploadAbove()
    {
        string bucket = await moto.BucketAsync("multipart");
        S3StoreOptions options = SmallParts(bucket);
        options.SeekableMultipartThreshold = 8 * MiB;
        S3InputStateStore store = moto.CreateStore(options);
        string single = NewKey();
        string multi = NewKey();

        // Both are above MultipartThreshold (5 MiB), which applies to content of unknown length only.
        using (var content = new GeneratedStream(8L * MiB, seed: 18))
        {
            await store.WriteAsync(single, content, WriteCondition.IfAbsent);
        }

        using (var content = new GeneratedStream((8L * MiB) + 1, seed: 19))
        {
            await store.WriteAsync(multi, content, WriteCondition.IfAbsent);
        }

        GetObjectMetadataResponse singleHead = await moto.Client.GetObjectMetadataAsync(bucket, single);
        GetObjectMetadataResponse multiHead = await moto.Client.GetObjectMetadataAsync(bucket, multi);
        Assert.DoesNotContain("-", singleHead.ETag, StringComparison.Ordinal);
        Assert.EndsWith("-2\"", multiHead.ETag, StringComparison.Ordinal); // PartSize parts: 5 MiB and 3 MiB + 1
        Assert.Equal((8L * MiB) + 1, multiHead.ContentLength);
    }

    [Theory]
    [InlineData(200)] // one PutObject
    [InlineData(5)] // a multipart upload of 32 parts
    public async Task LargeSeekableUpload_StreamsFromTheContentWithoutBuffers(int thresholdMiB)
    {
        string bucket = await moto.BucketAsync("multipart");
        S3StoreOptions options = SmallParts(bucket);
        options.SeekableMultipartThreshold = thresholdMiB * MiB;
        S3InputStateStore store = moto.CreateStore(options);
        string key = NewKey();
        const long Size = 160L * MiB;
        using (var warmUp = new GeneratedStream(12L * MiB, seed: 1))
        {
            await store.WriteAsync(NewKey(), warmUp, WriteCondition.None);
        }

        long before = GC.GetTotalAllocatedBytes(precise: true);
        StoreVersion version;
        using (var content = new GeneratedStream(Size, seed: 6))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // Buffering the content would allocate at least its 160 MiB; the SDK's own request plumbing allocates about a tenth of it.
        Assert.True(allocated < 48L * MiB, $"the upload allocated {allocated / MiB} MiB");
        GetObjectMetadataResponse head = await moto.Client.GetObjectMetadataAsync(bucket, key);
        Assert.Equal((Size, version.Value), (head.ContentLength, head.ETag));
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal(GeneratedStream.Hash(Size, seed: 6), await SHA256.HashDataAsync(read.Content));
    }

    [Theory]
    [InlineData("WHEN_REQUIRED")] // whole reads are ranged ("bytes=0-"), so the SDK checks neither MD5 nor CRC32
    [InlineData("WHEN_SUPPORTED")] // whole reads are plain, and the SDK verifies what it can
    public async Task Reads_OfSingleMultipartAndEmptyObjects_ReturnTheContentWhateverTheResponseValidation(string validation)
    {
        string bucket = await moto.BucketAsync("store");
        S3StoreOptions options = SmallParts(bucket);
        options.ResponseChecksumValidation = validation == "WHEN_REQUIRED" ? ResponseChecksumValidation.WHEN_REQUIRED : ResponseChecksumValidation.WHEN_SUPPORTED;
        S3InputStateStore store = moto.CreateStore(options);
        string prefix = $"s3-{Guid.NewGuid():N}/";
        long[] sizes = [0, 1000, (6L * MiB) + 1];
        foreach (long size in sizes)
        {
            using var content = new GeneratedStream(size, seed: 40, seekable: false);
            await store.WriteAsync(prefix + size, content, WriteCondition.IfAbsent);
        }

        foreach (long size in sizes)
        {
            await using (StoreReadResult? read = await store.ReadAsync(prefix + size))
            {
                Assert.NotNull(read);
                Assert.Equal(size, read.Info.Length);
                Assert.Equal(GeneratedStream.Hash(size, seed: 40), await SHA256.HashDataAsync(read.Content));
            }

            await using StoreReadResult? tail = await store.ReadAsync(prefix + size, offset: Math.Min(size, 7));
            Assert.NotNull(tail);
            Assert.Equal(size, tail.Info.Length);
            Assert.Equal(GeneratedStream.Hash(size, seed: 40, offset: Math.Min(size, 7)), await SHA256.HashDataAsync(tail.Content));
        }
    }

    [Fact]
    public void ResponseChecksumValidation_DefaultsToWhenRequired_AndSeekableContentToOnePutUpTo128MiB()
    {
        var options = new S3StoreOptions();

        Assert.Equal(ResponseChecksumValidation.WHEN_REQUIRED, options.ResponseChecksumValidation);
        Assert.Equal(ResponseChecksumValidation.WHEN_REQUIRED, S3InputStateStore.CreateClientConfig(new S3StoreOptions { Bucket = "ckpt-bucket" }).ResponseChecksumValidation);
        Assert.Equal(128 * MiB, options.SeekableMultipartThreshold);
        Assert.Equal(RequestChecksumCalculation.WHEN_SUPPORTED, options.RequestChecksumCalculation);
    }

    [Theory]
    [InlineData(1024)]
    [InlineData((11 * MiB) + 1)]
    public async Task ServerSideEncryption_IsRequestedForSingleAndMultipartUploads(int size)
    {
        string bucket = await moto.BucketAsync("store");
        S3StoreOptions options = SmallParts(bucket);
        options.ServerSideEncryption = "aes256";
        S3InputStateStore store = moto.CreateStore(options);
        string key = NewKey();

        using (var content = new GeneratedStream(size, seed: 2, seekable: false))
        {
            await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        GetObjectMetadataResponse head = await moto.Client.GetObjectMetadataAsync(bucket, key);
        Assert.Equal(ServerSideEncryptionMethod.AES256, head.ServerSideEncryptionMethod);
    }

    [Fact]
    public async Task Delete_ReportsWhetherThisCallDeletedTheObject()
    {
        S3InputStateStore store = moto.CreateStore(moto.Options(await moto.BucketAsync("store")));
        string key = NewKey();
        StoreVersion version = await store.WriteAsync(key, Text("x"), WriteCondition.IfAbsent);

        bool[] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => store.DeleteAsync(key, version))));

        Assert.Equal(1, results.Count(deleted => deleted));
        Assert.Null(await store.ReadAsync(key));
    }

    [Fact]
    public async Task CreateBucketIfMissing_Off_EveryOperationOnAMissingBucketFailsNamingIt()
    {
        string bucket = moto.NewBucketName("missing");
        S3InputStateStore store = moto.CreateStore(moto.Options(bucket));

        List<CheckpointStoreException> failures =
        [
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("a", Text("x"), WriteCondition.IfAbsent)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("a")),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("a", offset: 3)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("a")),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("a", new StoreVersion("\"v\""))),
            await Assert.ThrowsAsync<CheckpointStoreException>(async () => await ListAsync(store, string.Empty)),
        ];

        Assert.All(failures, failure =>
        {
            Assert.Contains($"\"{bucket}\" does not exist", failure.Message, StringComparison.Ordinal);
            Assert.Contains("CreateBucketIfMissing", failure.Message, StringComparison.Ordinal);
            Assert.Equal("NoSuchBucket", Assert.IsAssignableFrom<AmazonS3Exception>(failure.InnerException).ErrorCode);
        });
        Assert.False(await BucketExistsAsync(bucket));
    }

    [Fact]
    public async Task CreateBucketIfMissing_On_CreatesTheBucketOnFirstUse_Once()
    {
        string bucket = moto.NewBucketName("created");
        S3StoreOptions options = moto.Options(bucket);
        options.CreateBucketIfMissing = true;
        S3InputStateStore store = moto.CreateStore(options);
        S3InputStateStore second = moto.CreateStore(options);

        Assert.False(await BucketExistsAsync(bucket));
        StoreVersion[] versions = await Task.WhenAll(
            store.WriteAsync("a", Text("a"), WriteCondition.IfAbsent),
            store.WriteAsync("b", Text("b"), WriteCondition.IfAbsent),
            second.WriteAsync("c", Text("c"), WriteCondition.IfAbsent));

        Assert.True(await BucketExistsAsync(bucket));
        Assert.Equal(["a", "b", "c"], (await ListAsync(second, string.Empty)).Select(i => i.Key).Order(StringComparer.Ordinal));
        Assert.Equal(("a", versions[0]), await ReadTextAsync(second, "a"));
    }

    [Fact]
    public async Task StoreDown_EveryOperationFailsWithAStoreExceptionAfterTheRetries()
    {
        int port = FreePort.Get(); // nothing listens there
        S3StoreOptions options = moto.Options("ipc-unreachable");
        options.ServiceUrl = new Uri($"http://127.0.0.1:{port}/");
        options.MaxErrorRetry = 1;
        S3InputStateStore store = moto.CreateStore(options);

        List<CheckpointStoreException> failures =
        [
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("a", Text("x"), WriteCondition.IfAbsent)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("a")),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("a")),
            await Assert.ThrowsAsync<CheckpointStoreException>(async () => await ListAsync(store, string.Empty)),
        ];

        Assert.All(failures, failure =>
        {
            Assert.Equal("S3", failure.ProviderName);
            Assert.Contains("after up to 2 attempts", failure.Message, StringComparison.Ordinal);
            Assert.NotNull(failure.InnerException);
            Assert.IsNotAssignableFrom<CheckpointException>(failure.InnerException);
        });
        Assert.Equal("a", failures[0].Key);
    }

    [Fact]
    public async Task ServiceUnavailable_IsRetriedThenFailsWithAStoreException()
    {
        using var server = new FakeS3Server(HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
        S3StoreOptions options = moto.Options("ipc-fake");
        options.ServiceUrl = server.Endpoint;
        options.MaxErrorRetry = 2;
        S3InputStateStore store = moto.CreateStore(options);

        var failure = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("state"));

        Assert.Equal(3, server.Requests);
        Assert.Equal("state", failure.Key);
        Assert.Contains("503", failure.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, Assert.IsType<AmazonS3Exception>(failure.InnerException).StatusCode);

        await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("state", Text("x"), WriteCondition.IfAbsent));
        Assert.Equal(6, server.Requests);
    }

    [Fact]
    public async Task AccessDenied_IsAStoreException_NotRetried()
    {
        using var server = new FakeS3Server(HttpStatusCode.Forbidden, "AccessDenied");
        S3StoreOptions options = moto.Options("ipc-fake");
        options.ServiceUrl = server.Endpoint;
        S3InputStateStore store = moto.CreateStore(options);

        var failure = await Assert.ThrowsAsync<CheckpointStoreException>(async () => await ListAsync(store, "input"));

        Assert.Equal(1, server.Requests);
        Assert.Contains("403", failure.Message, StringComparison.Ordinal);
        Assert.Contains("AccessDenied", failure.Message, StringComparison.Ordinal);
        Assert.Null(failure.Key);
    }

    [Fact]
    public async Task AStoreItWasGivenAClient_UsesItAndDoesNotDisposeIt()
    {
        string bucket = await moto.BucketAsync("store");
        string key = NewKey();
        using (var store = new S3InputStateStore(moto.Client, new S3StoreOptions { Bucket = bucket }))
        {
            await store.WriteAsync(key, Text("shared client"), WriteCondition.IfAbsent);
            Assert.Same(moto.Client, store.Client);
        }

        using GetObjectResponse raw = await moto.Client.GetObjectAsync(bucket, key);
        using var reader = new StreamReader(raw.ResponseStream);
        Assert.Equal("shared client", await reader.ReadToEndAsync());
    }

    private S3StoreOptions SmallParts(string bucket)
    {
        S3StoreOptions options = moto.Options(bucket);
        options.MultipartThreshold = S3StoreOptions.MinPartSize;
        options.PartSize = S3StoreOptions.MinPartSize;
        return options;
    }

    private async Task<bool> BucketExistsAsync(string bucket)
    {
        try
        {
            await moto.Client.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket });
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static string NewKey() => $"s3-{Guid.NewGuid():N}/object";

    private static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    private static async Task<(string Text, StoreVersion Version)> ReadTextAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        using var reader = new StreamReader(read.Content);
        return (await reader.ReadToEndAsync(), read.Info.Version);
    }

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
