using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>The protocol contract suite on the in-memory store.</summary>
public sealed class InMemoryProtocolContractTests : CheckpointProtocolContractTests
{
    protected override Task<IInputStateStore> CreateStoreAsync() => Task.FromResult<IInputStateStore>(new InMemoryInputStateStore());
}

/// <summary>The protocol contract suite on the Local store.</summary>
public sealed class LocalProtocolContractTests : CheckpointProtocolContractTests, IDisposable
{
    private readonly TempDirectory _dir = new("protocol-local");

    protected override Task<IInputStateStore> CreateStoreAsync() => Task.FromResult<IInputStateStore>(new LocalInputStateStore(_dir.Path));

    public void Dispose() => _dir.Dispose();
}
