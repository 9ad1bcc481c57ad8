using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.S3.Tests;

/// <summary>The store contract, run against moto with the default multipart settings, in one bucket for the class.</summary>
[Trait("Provider", "S3")]
[Collection(MotoGroup.Name)]
public sealed class S3StoreContractTests(MotoFixture moto) : InputStateStoreContractTests
{
    protected override async Task<IInputStateStore> CreateStoreAsync() =>
        moto.CreateStore(moto.Options(await moto.BucketAsync("contract")));
}

/// <summary>The store contract again, under a prefix and with the smallest parts (5 MiB), so multipart uploads have several parts.</summary>
[Trait("Provider", "S3")]
[Collection(MotoGroup.Name)]
public sealed class S3SmallPartsStoreContractTests(MotoFixture moto) : InputStateStoreContractTests
{
    protected override long LargeObjectSize => 23L * 1024 * 1024;

    protected override long AboveMultipartThreshold => (5L * 1024 * 1024) + 1;

    /// <summary>Seekable content of exactly the threshold is one PutObject; one byte more, and 11 MiB, are multipart uploads of 2 and 3 parts.</summary>
    protected override IReadOnlyList<long> SeekableContentSizes => [S3StoreOptions.MinPartSize, S3StoreOptions.MinPartSize + 1L, (11L * 1024 * 1024) + 3];

    protected override async Task<IInputStateStore> CreateStoreAsync()
    {
        S3StoreOptions options = moto.Options(await moto.BucketAsync("contract-small"), prefix: "/nested/prefix");
        options.MultipartThreshold = S3StoreOptions.MinPartSize;
        options.PartSize = S3StoreOptions.MinPartSize;
        options.SeekableMultipartThreshold = S3StoreOptions.MinPartSize;
        return moto.CreateStore(options);
    }
}

/// <summary>The core's commit protocol end to end against moto, under a prefix.</summary>
[Trait("Provider", "S3")]
[Collection(MotoGroup.Name)]
public sealed class S3ProtocolContractTests(MotoFixture moto) : CheckpointProtocolContractTests
{
    protected override async Task<IInputStateStore> CreateStoreAsync() =>
        moto.CreateStore(moto.Options(await moto.BucketAsync("protocol"), prefix: "runs/protocol"));
}
