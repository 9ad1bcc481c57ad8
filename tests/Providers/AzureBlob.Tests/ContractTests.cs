using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>
/// The store contract against Azurite. Transfers are small (2 MiB single-shot limit, 1 MiB blocks) so that the
/// non-seekable, large and cancelled uploads go through staged blocks, and listing pages hold 500 blobs so that the
/// paging test crosses pages.
/// </summary>
[Collection(AzuriteDefinition.Name)]
[Trait("Provider", "AzureBlob")]
public sealed class AzureBlobStoreContractTests(AzuriteFixture azurite) : InputStateStoreContractTests
{
    /// <summary>Seekable content of exactly the single-shot limit is one request; one byte more, and 3 MiB, are staged as blocks read from the stream.</summary>
    protected override IReadOnlyList<long> SeekableContentSizes => [2L * 1024 * 1024, (2L * 1024 * 1024) + 1, (3L * 1024 * 1024) + 5];

    protected override async Task<IInputStateStore> CreateStoreAsync() =>
        new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("contract"), o =>
        {
            o.InitialTransferSize = 2L * 1024 * 1024;
            o.MaximumTransferSize = 1L * 1024 * 1024;
            o.ListPageSize = 500;
        }));
}

/// <summary>The store contract against Azurite through a configured prefix, with the default transfer settings.</summary>
[Collection(AzuriteDefinition.Name)]
[Trait("Provider", "AzureBlob")]
public sealed class AzureBlobPrefixedStoreContractTests(AzuriteFixture azurite) : InputStateStoreContractTests
{
    /// <summary>The default single-shot limit is 8 MiB: a 9 MiB object is staged as blocks.</summary>
    protected override long AboveMultipartThreshold => 9L * 1024 * 1024;

    /// <summary>The 64 MiB object already ran in the unprefixed suite; 16 MiB is two 8 MiB blocks.</summary>
    protected override long LargeObjectSize => 16L * 1024 * 1024;

    protected override async Task<IInputStateStore> CreateStoreAsync() =>
        new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("prefixed"), o =>
        {
            o.Prefix = "/jobs/run 1";
            o.InitialTransferSize = AzureBlobStoreOptions.DefaultInitialTransferSize;
            o.MaximumTransferSize = AzureBlobStoreOptions.DefaultMaximumTransferSize;
        }));
}

/// <summary>The core's commit protocol, end to end, on Azurite.</summary>
[Collection(AzuriteDefinition.Name)]
[Trait("Provider", "AzureBlob")]
public sealed class AzureBlobProtocolContractTests(AzuriteFixture azurite) : CheckpointProtocolContractTests
{
    protected override async Task<IInputStateStore> CreateStoreAsync() =>
        new AzureBlobInputStateStore(azurite.Options(await azurite.SharedContainerAsync("protocol")));
}
