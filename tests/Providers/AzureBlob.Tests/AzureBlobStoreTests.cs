using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>Behaviour specific to the Azure Blob store, against Azurite.</summary>
[Collection(AzuriteDefinition.Name)]
[Trait("Provider", "AzureBlob")]
public sealed class AzureBlobStoreTests(AzuriteFixture azurite, ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task MissingContainer_WithCreateIfMissingOff_FailsEveryOperationNamingTheContainer_AndCreatesNothing()
    {
        string container = azurite.NewContainerName("missing");
        var store = new AzureBlobInputStateStore(azurite.Options(container));

        var failures = new List<CheckpointStoreException>
        {
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Content("x"), WriteCondition.IfAbsent)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", new NonSeekableStream(Content("x")), WriteCondition.None)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k")),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("k")),
            await Assert.ThrowsAsync<CheckpointStoreException>(async () => await ListAsync(store, string.Empty)),
        };

        Assert.All(failures, f =>
        {
            Assert.Contains($"container \"{container}\" does not exist", f.Message, StringComparison.Ordinal);
            Assert.Contains("CreateContainerIfMissing", f.Message, StringComparison.Ordinal);
            Assert.Equal("AzureBlob", f.ProviderName);
            RequestFailedException inner = Assert.IsType<RequestFailedException>(f.InnerException);
            Assert.Equal(404, inner.Status);
            Assert.Equal("ContainerNotFound", inner.ErrorCode);
        });
        Assert.False(await azurite.ServiceClient.GetBlobContainerClient(container).ExistsAsync());
    }

    [Fact]
    public async Task MissingContainer_WithCreateIfMissingOn_IsCreatedByTheFirstWrite_EvenOfANonSeekableStream()
    {
        string container = azurite.NewContainerName("create-on-write");
        var logs = new ListLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        var store = new AzureBlobInputStateStore(azurite.Options(container, o => o.CreateContainerIfMissing = true), loggerFactory);
        byte[] bytes = GeneratedStream.Bytes(3 * MiB, seed: 4);

        StoreVersion version = await store.WriteAsync("part", new NonSeekableStream(new MemoryStream(bytes)), WriteCondition.IfAbsent);

        Assert.True(await azurite.ServiceClient.GetBlobContainerClient(container).ExistsAsync());
        Assert.Single(logs.Entries, e => e.EventId == 2000 && e.Message.Contains(container, StringComparison.Ordinal));
        await using StoreReadResult? read = await store.ReadAsync("part");
        Assert.NotNull(read);
        Assert.Equal(version, read.Info.Version);
        Assert.Equal(SHA256.HashData(bytes), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task MissingContainer_WithCreateIfMissingOn_ReadListAndDelete_CreateItAndFindNothing()
    {
        string forRead = azurite.NewContainerName("create-on-read");
        string forList = azurite.NewContainerName("create-on-list");
        string forDelete = azurite.NewContainerName("create-on-delete");

        Assert.Null(await new AzureBlobInputStateStore(azurite.Options(forRead, o => o.CreateContainerIfMissing = true)).ReadAsync("k"));
        Assert.Empty(await ListAsync(new AzureBlobInputStateStore(azurite.Options(forList, o => o.CreateContainerIfMissing = true)), string.Empty));
        Assert.False(await new AzureBlobInputStateStore(azurite.Options(forDelete, o => o.CreateContainerIfMissing = true)).DeleteAsync("k"));

        foreach (string container in new[] { forRead, forList, forDelete })
        {
            Assert.True(await azurite.ServiceClient.GetBlobContainerClient(container).ExistsAsync(), container);
        }
    }

    [Fact]
    public async Task ContainerDeletedAfterTheFirstWrite_IsCreatedAgain_ForASeekableWrite()
    {
        string container = azurite.NewContainerName("recreate");
        var store = new AzureBlobInputStateStore(azurite.Options(container, o => o.CreateContainerIfMissing = true));
        await store.WriteAsync("a", Content("one"), WriteCondition.None);
        await azurite.ServiceClient.GetBlobContainerClient(container).DeleteAsync();
        await WaitUntilDeletedAsync(container);

        StoreVersion version = await store.WriteAsync("b", Content("two"), WriteCondition.IfAbsent);

        Assert.Equal(("two", version), await ReadTextAsync(store, "b"));
    }

    [Fact]
    public async Task StoreDown_AClosedPort_FailsEveryOperationWithCheckpointStoreException_AfterTheRetries()
    {
        int port = FreePort.Get(); // nothing listens there
        var store = new AzureBlobInputStateStore(TestOptions.For(AzuriteInstance.ConnectionStringFor(port), "down", o =>
        {
            o.MaxRetries = 2;
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(5);
        }));

        var failures = new List<CheckpointStoreException>
        {
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Content("x"), WriteCondition.IfAbsent)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", new GeneratedStream(3 * MiB, seed: 1, seekable: false), WriteCondition.None)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("k", offset: 5)),
            await Assert.ThrowsAsync<CheckpointStoreException>(() => store.DeleteAsync("k", new StoreVersion("0x1"))),
            await Assert.ThrowsAsync<CheckpointStoreException>(async () => await ListAsync(store, "p/")),
        };

        Assert.All(failures, f =>
        {
            Assert.Equal("AzureBlob", f.ProviderName);
            Assert.Contains($"127.0.0.1:{port}", f.Message, StringComparison.Ordinal);
            Assert.Contains("3 attempts failed", f.Message, StringComparison.Ordinal);
            AggregateException retries = Assert.IsType<AggregateException>(f.InnerException);
            Assert.Equal(3, retries.InnerExceptions.Count);
        });
        Assert.Equal("k", failures[0].Key);
        Assert.Null(failures[^1].Key);
        Assert.All(failures, f => Assert.DoesNotContain(AzuriteInstance.AccountKey, f.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AServerAnswering503_IsRetried_ThenFailsWithCheckpointStoreException()
    {
        using var server = new FakeBlobServer((_, _) => (503, "ServerBusy"));
        var store = new AzureBlobInputStateStore(TestOptions.For(server.ConnectionString, "busy", o =>
        {
            o.MaxRetries = 3;
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(5);
        }));

        CheckpointStoreException read = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.ReadAsync("state"));
        int afterRead = server.Requests;
        CheckpointStoreException write = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("state", Content("x"), WriteCondition.IfAbsent));
        int afterWrite = server.Requests;

        Assert.Equal(4, afterRead); // the first attempt and 3 retries
        Assert.Equal(8, afterWrite);
        foreach (CheckpointStoreException failure in new[] { read, write })
        {
            RequestFailedException inner = Assert.IsType<RequestFailedException>(failure.InnerException);
            Assert.Equal(503, inner.Status);
            Assert.Contains("HTTP 503 ServerBusy", failure.Message, StringComparison.Ordinal);
            Assert.Equal("state", failure.Key);
        }
    }

    [Fact]
    public async Task ASeekableBlockUpload_WhoseBlocksFail_StopsAndFailsWithCheckpointStoreException()
    {
        using var server = new FakeBlobServer((_, _) => (503, "ServerBusy"));
        var store = new AzureBlobInputStateStore(TestOptions.For(server.ConnectionString, "busy", o =>
        {
            o.MaxRetries = 1;
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(5);
            o.InitialTransferSize = 64 * 1024;
            o.MaximumTransferSize = 64 * 1024;
            o.MaximumConcurrency = 2;
        }));
        using var content = new GeneratedStream(MiB, seed: 3);

        CheckpointStoreException write = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("state", content, WriteCondition.IfAbsent));

        Assert.Equal(503, Assert.IsType<RequestFailedException>(write.InnerException).Status);
        Assert.Equal("state", write.Key);
        Assert.True(server.Requests < 16 * 2, $"{server.Requests} requests: the failed block should have stopped the upload");
    }

    [Fact]
    public async Task AServerAnswering503_ThenRecovering_Succeeds()
    {
        using var server = new FakeBlobServer((n, _) => n <= 2 ? (503, "ServerBusy") : (404, "BlobNotFound"));
        var store = new AzureBlobInputStateStore(TestOptions.For(server.ConnectionString, "busy", o => o.RetryDelay = TimeSpan.FromMilliseconds(1)));

        StoreReadResult? read = await store.ReadAsync("state");

        Assert.Null(read);
        Assert.Equal(3, server.Requests);
    }

    [Fact]
    public async Task Conflicts_KeepTheServiceResponseAsTheInnerException()
    {
        var store = new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("specific")));
        string key = NewKey();
        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        await store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(first));

        var exists = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Content("x"), WriteCondition.IfAbsent));
        var stale = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, Content("x"), WriteCondition.IfVersionMatches(first)));
        var staleDelete = await Assert.ThrowsAsync<CheckpointConflictException>(() => store.DeleteAsync(key, first));

        Assert.Equal(409, Assert.IsType<RequestFailedException>(exists.InnerException).Status);
        Assert.Equal("BlobAlreadyExists", ((RequestFailedException)exists.InnerException!).ErrorCode);
        Assert.Equal(412, Assert.IsType<RequestFailedException>(stale.InnerException).Status);
        Assert.Equal(412, Assert.IsType<RequestFailedException>(staleDelete.InnerException).Status);
    }

    [Fact]
    public async Task ConditionalBlockUploads_ConflictLikeSmallOnes_AndKeepTheBlob()
    {
        var store = new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("specific"), o =>
        {
            o.InitialTransferSize = 256 * 1024;
            o.MaximumTransferSize = 256 * 1024;
        }));
        string key = NewKey();
        StoreVersion stale = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        StoreVersion current = await store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(stale));

        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, new GeneratedStream(MiB + 5, seed: 2, seekable: false), WriteCondition.IfAbsent));
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(key, new GeneratedStream(MiB + 5, seed: 2, seekable: false), WriteCondition.IfVersionMatches(stale)));
        await Assert.ThrowsAsync<CheckpointConflictException>(() => store.WriteAsync(NewKey(), new GeneratedStream(MiB + 5, seed: 2, seekable: false), WriteCondition.IfVersionMatches(stale)));

        Assert.Equal(("two", current), await ReadTextAsync(store, key));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ALargeConditionalUpload_OvertakenByAnotherWriter_GetsAConflict_AndTheWinnerStays(bool compareAndSwap)
    {
        var store = new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("specific"), o =>
        {
            o.InitialTransferSize = 256 * 1024;
            o.MaximumTransferSize = 256 * 1024;
            o.MaximumConcurrency = 1;
        }));
        string key = NewKey();
        WriteCondition condition = WriteCondition.IfAbsent;
        if (compareAndSwap)
        {
            condition = WriteCondition.IfVersionMatches(await store.WriteAsync(key, Content("initial"), WriteCondition.IfAbsent));
        }

        using var slow = new GatedStream(2 * MiB, gateAt: MiB, seed: 50);
        Task<StoreVersion> loser = store.WriteAsync(key, slow, condition);
        await slow.Reached.WaitAsync(TimeSpan.FromSeconds(30)); // the slow writer has blocks staged
        byte[] bytes = GeneratedStream.Bytes(2 * MiB, seed: 51);
        StoreVersion winner = await store.WriteAsync(key, new NonSeekableStream(new MemoryStream(bytes)), condition);
        slow.Open();

        CheckpointConflictException conflict = await Assert.ThrowsAsync<CheckpointConflictException>(() => loser);

        RequestFailedException inner = Assert.IsType<RequestFailedException>(conflict.InnerException);
        output.WriteLine($"The overtaken {condition.Kind} upload failed with HTTP {inner.Status} {inner.ErrorCode}.");
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal(winner, read.Info.Version);
        Assert.Equal(SHA256.HashData(bytes), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task Versions_AreTheBlobsETags_AsTheServiceReportsThem()
    {
        string container = await azurite.SharedContainerAsync("specific");
        var store = new AzureBlobInputStateStore(azurite.Options(container));
        string key = NewKey();

        StoreVersion version = await store.WriteAsync(key, Content("x"), WriteCondition.IfAbsent);

        BlobProperties properties = await azurite.ServiceClient.GetBlobContainerClient(container).GetBlobClient(key).GetPropertiesAsync();
        Assert.Equal(properties.ETag.ToString().Trim('"'), version.Value);
        Assert.DoesNotContain('"', version.Value);
    }

    [Fact]
    public async Task Prefix_MapsKeysUnderIt_AndListingsStripIt_AndSeeNothingOutside()
    {
        string container = await azurite.NewContainerAsync("prefix");
        var prefixed = new AzureBlobInputStateStore(azurite.Options(container, o => o.Prefix = "/jobs/run-1"));
        var root = new AzureBlobInputStateStore(azurite.Options(container));
        await root.WriteAsync("outside", Content("o"), WriteCondition.IfAbsent);
        await root.WriteAsync("jobs/run-10/sibling", Content("s"), WriteCondition.IfAbsent);

        await prefixed.WriteAsync("input.ckpt-1.manifest", Content("m"), WriteCondition.IfAbsent);
        await prefixed.WriteAsync("checkpoint_input", Content("c"), WriteCondition.IfAbsent);

        Assert.Equal("jobs/run-1/", prefixed.Prefix);
        string[] names = await BlobNamesAsync(container);
        Assert.Equal(["jobs/run-1/checkpoint_input", "jobs/run-1/input.ckpt-1.manifest", "jobs/run-10/sibling", "outside"], names);
        Assert.Equal(["checkpoint_input", "input.ckpt-1.manifest"], (await ListAsync(prefixed, string.Empty)).Select(i => i.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["input.ckpt-1.manifest"], (await ListAsync(prefixed, "input")).Select(i => i.Key));
        Assert.Null(await prefixed.ReadAsync("outside"));
        Assert.Equal("m", (await ReadTextAsync(root, "jobs/run-1/input.ckpt-1.manifest")).Text);
        Assert.True(await prefixed.DeleteAsync("checkpoint_input"));
        Assert.Equal(["jobs/run-1/input.ckpt-1.manifest", "jobs/run-10/sibling", "outside"], await BlobNamesAsync(container));
    }

    [Fact]
    public async Task Listing_PagesThroughEverything_WithOneRequestPerPage()
    {
        string container = await azurite.NewContainerAsync("paging");
        var recorder = new RecordingPolicy();
        var store = new AzureBlobInputStateStore(RecordingClient(recorder), azurite.Options(container, o => o.ListPageSize = 10));
        string[] keys = Enumerable.Range(0, 25).Select(i => $"many/k{i:D2}").ToArray();
        await Parallel.ForEachAsync(keys, async (key, ct) => await store.WriteAsync(key, Content(key), WriteCondition.IfAbsent, ct));
        recorder.Requests.Clear();

        List<StoreObjectInfo> listed = await ListAsync(store, "many/");

        Assert.Equal(keys, listed.Select(i => i.Key));
        RecordedRequest[] lists = recorder.Requests.Where(r => r.Comp == "list").ToArray();
        Assert.Equal(3, lists.Length);
        Assert.All(lists, r => Assert.Contains("maxresults=10", r.Uri.Query, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Uploads_WithTransferChecksumNone_CarryNoChecksum()
    {
        string container = await azurite.SharedContainerAsync("specific");
        var recorder = new RecordingPolicy();
        var store = new AzureBlobInputStateStore(RecordingClient(recorder), azurite.Options(container, o =>
        {
            o.InitialTransferSize = 512 * 1024;
            o.MaximumTransferSize = 256 * 1024;
            o.TransferChecksum = Azure.Storage.StorageChecksumAlgorithm.None;
        }));

        await store.WriteAsync(NewKey(), Content("small, single shot"), WriteCondition.IfAbsent);
        await store.WriteAsync(NewKey(), new GeneratedStream(MiB + 3, seed: 8, seekable: false), WriteCondition.IfAbsent);

        RecordedRequest[] puts = recorder.Requests.Where(r => r.Method == "PUT" && r.Comp is "" or "block").ToArray();
        Assert.Equal(6, puts.Length); // one single shot, five blocks
        Assert.All(puts, r => Assert.False(r.Headers.ContainsKey("Content-MD5"), $"{r.Uri} has a Content-MD5"));
        Assert.All(puts, r => Assert.False(r.Headers.ContainsKey("x-ms-content-crc64"), $"{r.Uri} has a CRC64"));
    }

    [Fact]
    public async Task Uploads_ByDefault_SendAnMd5OfEveryRequestBody_AndNoCrc64()
    {
        string container = await azurite.SharedContainerAsync("specific");
        var recorder = new RecordingPolicy();
        var store = new AzureBlobInputStateStore(RecordingClient(recorder), azurite.Options(container, o =>
        {
            o.InitialTransferSize = 512 * 1024;
            o.MaximumTransferSize = 256 * 1024;
        }));

        await store.WriteAsync(NewKey(), Content("small, single shot"), WriteCondition.IfAbsent);
        await store.WriteAsync(NewKey(), new GeneratedStream(MiB + 3, seed: 8, seekable: false), WriteCondition.IfAbsent);
        await store.WriteAsync(NewKey(), new GeneratedStream(MiB + 3, seed: 8, seekable: true), WriteCondition.None);

        RecordedRequest[] puts = recorder.Requests.Where(r => r.Method == "PUT").ToArray();
        RecordedRequest[] blocks = puts.Where(r => r.Comp == "block").ToArray();
        RecordedRequest[] singleShots = puts.Where(r => r.Comp.Length == 0).ToArray();
        Assert.Equal(10, blocks.Length); // 5 blocks of 256 KiB for each of the two large writes
        Assert.Single(singleShots);
        Assert.Equal(2, puts.Count(r => r.Comp == "blocklist"));
        Assert.All(blocks.Concat(singleShots), r => Assert.True(r.Headers.ContainsKey("Content-MD5"), $"{r.Uri} has no Content-MD5"));
        Assert.All(puts, r => Assert.False(r.Headers.ContainsKey("x-ms-content-crc64"), $"{r.Uri} has a CRC64"));
    }

    [Fact]
    public async Task ContainerSas_ServiceUri_AuthenticatesEveryOperation()
    {
        string container = await azurite.NewContainerAsync("sas-container");
        Uri sas = azurite.ServiceClient.GetBlobContainerClient(container)
            .GenerateSasUri(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1));
        var options = azurite.Options(container, o =>
        {
            o.ConnectionString = null;
            o.ServiceUri = sas;
        });

        await RoundTripAsync(new AzureBlobInputStateStore(options));

        Assert.Contains("sig=***", options.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(System.Web.HttpUtility.ParseQueryString(sas.Query)["sig"]!, options.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContainerSas_WithCreateIfMissingOn_WorksOnTheExistingContainer()
    {
        string container = await azurite.NewContainerAsync("sas-nocreate");
        Uri sas = azurite.ServiceClient.GetBlobContainerClient(container)
            .GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Write | BlobContainerSasPermissions.Delete | BlobContainerSasPermissions.List, DateTimeOffset.UtcNow.AddHours(1));

        var logs = new ListLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));

        await RoundTripAsync(new AzureBlobInputStateStore(
            azurite.Options(container, o =>
            {
                o.ConnectionString = null;
                o.ServiceUri = sas;
                o.CreateContainerIfMissing = true;
            }),
            loggerFactory));

        // The SAS may not create containers: the store noted it once and went on.
        Assert.Single(logs.Entries, e => e.EventId == 2002);
    }

    [Fact]
    public async Task AccountSas_ServiceUri_AuthenticatesEveryOperation_AndCanCreateTheContainer()
    {
        string container = azurite.NewContainerName("sas-account");
        Uri sas = azurite.ServiceClient.GenerateAccountSasUri(AccountSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1), AccountSasResourceTypes.All);
        var store = new AzureBlobInputStateStore(azurite.Options(container, o =>
        {
            o.ConnectionString = null;
            o.ServiceUri = sas;
            o.CreateContainerIfMissing = true;
        }));

        await RoundTripAsync(store);

        Assert.DoesNotContain("sig=", store.ToString(), StringComparison.Ordinal);
        Assert.Contains(container, store.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadPastTheEnd_OfAnEmptyBlob_ReturnsEmptyContentAndItsVersion()
    {
        var store = new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("specific")));
        string key = NewKey();
        StoreVersion version = await store.WriteAsync(key, new MemoryStream(), WriteCondition.IfAbsent);

        await using StoreReadResult? read = await store.ReadAsync(key, offset: 1);

        Assert.NotNull(read);
        Assert.Equal((0L, version, 0L), (read.Info.Length, read.Info.Version, read.RemainingLength));
        Assert.Equal(-1, read.Content.ReadByte());
    }

    [Fact]
    public async Task AnOpenRead_OfABlobReplacedMeanwhile_NeverMixesVersions()
    {
        var store = new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("specific")));
        string key = NewKey();
        byte[] first = GeneratedStream.Bytes(2 * MiB, seed: 30);
        StoreVersion version = await store.WriteAsync(key, new MemoryStream(first), WriteCondition.IfAbsent);

        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        var head = new byte[1000];
        await read.Content.ReadExactlyAsync(head);
        await store.WriteAsync(key, new MemoryStream(GeneratedStream.Bytes(2 * MiB, seed: 31)), WriteCondition.IfVersionMatches(version));
        using var rest = new MemoryStream();
        Exception? failure = await Record.ExceptionAsync(() => read.Content.CopyToAsync(rest));

        // Either the whole version the read reported, or a store failure: never a mix, never the new content under the old version.
        Assert.Equal(version, read.Info.Version);
        if (failure is null)
        {
            Assert.Equal(first, head.Concat(rest.ToArray()));
        }
        else
        {
            Assert.IsType<CheckpointStoreException>(failure);
        }
    }

    [Fact]
    public async Task SeekableUpload_StagesItsBlocksStraightFromTheStream_AllocatingNextToNothing()
    {
        const long Size = 128L * MiB;
        var recorder = new RecordingPolicy();
        string container = await azurite.SharedContainerAsync("specific");
        var store = new AzureBlobInputStateStore(RecordingClient(recorder), azurite.Options(container, o =>
        {
            o.InitialTransferSize = 4 * MiB;
            o.MaximumTransferSize = 4 * MiB;
            o.MaximumConcurrency = 2;
        }));
        string key = NewKey();
        await store.WriteAsync(NewKey(), new GeneratedStream(9 * MiB, seed: 1), WriteCondition.None); // loads the code paths

        long before = GC.GetTotalAllocatedBytes(precise: true);
        StoreVersion version;
        using (var content = new GeneratedStream(Size + 7, seed: 41) { Position = 7 })
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        output.WriteLine($"Allocated {allocated / (double)MiB:F1} MiB during the {Size / MiB} MiB upload.");
        Assert.True(allocated < 16L * MiB, $"the upload allocated {allocated / MiB} MiB; copying its blocks would allocate {Size / MiB} MiB");
        BlockList blocks = await azurite.ServiceClient.GetBlobContainerClient(container).GetBlockBlobClient(key).GetBlockListAsync();
        Assert.Equal(32, blocks.CommittedBlocks.Count());
        Assert.All(recorder.Requests.Where(r => r.Comp == "block"), r => Assert.True(r.Headers.ContainsKey("Content-MD5"), $"{r.Uri} has no Content-MD5"));
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        Assert.Equal((Size, version), (read.Info.Length, read.Info.Version));
        Assert.Equal(GeneratedStream.Hash(Size + 7, seed: 41, offset: 7), await SHA256.HashDataAsync(read.Content));
    }

    [Fact]
    public async Task NonSeekableUploadOfUnknownLength_KeepsMemoryBounded()
    {
        // The collection runs alone (DisableParallelization), so the heap holds only this test's data.
        const long Size = 128L * MiB;
        const long Block = 4L * MiB;
        const int Concurrency = 2;
        var store = new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("specific"), o =>
        {
            o.InitialTransferSize = Block;
            o.MaximumTransferSize = Block;
            o.MaximumConcurrency = Concurrency;
        }));
        string key = NewKey();
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = baseline;
        using var done = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
                await Task.Delay(20, CancellationToken.None);
            }
        });

        StoreVersion version;
        using (var content = new GeneratedStream(Size, seed: 40, seekable: false))
        {
            version = await store.WriteAsync(key, content, WriteCondition.IfAbsent);
        }

        await done.CancelAsync();
        await sampler;
        await using StoreReadResult? read = await store.ReadAsync(key, offset: Size - 10);
        Assert.NotNull(read);
        Assert.Equal((Size, version), (read.Info.Length, read.Info.Version));
        // Bounded by the buffers in flight (single-shot probe + blocks × concurrency, each possibly copied once), far below the content.
        long bound = 4 * (Block + (Block * Concurrency));
        output.WriteLine($"Live heap growth during the {Size / MiB} MiB upload: {(peak - baseline) / (double)MiB:F1} MiB (bound {bound / MiB} MiB).");
        Assert.True(peak - baseline < bound, $"The live heap grew by {(peak - baseline) / MiB} MiB during a {Size / MiB} MiB upload; the bound is {bound / MiB} MiB.");
    }

    private BlobServiceClient RecordingClient(RecordingPolicy recorder)
    {
        var clientOptions = new BlobClientOptions();
        clientOptions.AddPolicy(recorder, HttpPipelinePosition.PerRetry);
        return new BlobServiceClient(azurite.ConnectionString, clientOptions);
    }

    private async Task<string[]> BlobNamesAsync(string container)
    {
        var names = new List<string>();
        await foreach (BlobItem item in azurite.ServiceClient.GetBlobContainerClient(container).GetBlobsAsync())
        {
            names.Add(item.Name);
        }

        return [.. names.Order(StringComparer.Ordinal)];
    }

    private async Task WaitUntilDeletedAsync(string container)
    {
        // Azurite deletes a container at once; real Azure may answer 409 ContainerBeingDeleted for a while.
        BlobContainerClient client = azurite.ServiceClient.GetBlobContainerClient(container);
        for (int i = 0; i < 50 && await client.ExistsAsync(); i++)
        {
            await Task.Delay(100);
        }
    }

    private static async Task RoundTripAsync(AzureBlobInputStateStore store)
    {
        string key = NewKey();
        StoreVersion first = await store.WriteAsync(key, Content("one"), WriteCondition.IfAbsent);
        StoreVersion second = await store.WriteAsync(key, Content("two"), WriteCondition.IfVersionMatches(first));
        Assert.Equal(("two", second), await ReadTextAsync(store, key));
        Assert.Equal([key], (await ListAsync(store, key)).Select(i => i.Key));
        Assert.True(await store.DeleteAsync(key, second));
        Assert.Null(await store.ReadAsync(key));
    }

    private static string NewKey() => $"specific-{Guid.NewGuid():N}/object";

    private static MemoryStream Content(string text) => new(Encoding.UTF8.GetBytes(text));

    private static async Task<(string Text, StoreVersion Version)> ReadTextAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        using var reader = new StreamReader(read.Content, Encoding.UTF8);
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
