using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>
/// The store contract against the GCS emulator, through a store with a prefix and small upload settings (1 MiB in one
/// request, 512 KiB chunks above), so the suite's larger objects go through resumable sessions of many chunks.
/// </summary>
[Collection(GcsEmulatorGroup.Name)]
[Trait("Provider", "Gcs")]
public sealed class GcsStoreContractTests(GcsEmulatorFixture emulator) : InputStateStoreContractTests
{
    private static readonly Lock Gate = new();
    private static GcsInputStateStore? _store;

    /// <summary>Seekable content of exactly the threshold is one request; one byte more, and 3 MiB, are resumable uploads.</summary>
    protected override IReadOnlyList<long> SeekableContentSizes => [1024 * 1024, (1024 * 1024) + 1, (3L * 1024 * 1024) + 5];

    protected override async Task<IInputStateStore> CreateStoreAsync()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsStoreContractTests));
        lock (Gate)
        {
            if (_store is null || _store.Bucket != bucket)
            {
                _store = emulator.Store(bucket, o =>
                {
                    o.Prefix = "contract";
                    o.ResumableThreshold = 1024 * 1024;
                    o.ChunkSize = 512 * 1024;
                });
            }

            return _store;
        }
    }
}

/// <summary>The core's commit protocol end to end on the GCS emulator, with the store's default upload settings.</summary>
[Collection(GcsEmulatorGroup.Name)]
[Trait("Provider", "Gcs")]
public sealed class GcsProtocolContractTests(GcsEmulatorFixture emulator) : CheckpointProtocolContractTests
{
    private static readonly Lock Gate = new();
    private static GcsInputStateStore? _store;

    protected override async Task<IInputStateStore> CreateStoreAsync()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsProtocolContractTests));
        lock (Gate)
        {
            if (_store is null || _store.Bucket != bucket)
            {
                _store = emulator.Store(bucket);
            }

            return _store;
        }
    }
}
