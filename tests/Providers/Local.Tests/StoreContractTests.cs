using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Local.Tests;

/// <summary>The store contract, run against the Local store over a fresh temp folder per test.</summary>
[Trait("Provider", "Local")]
public sealed class LocalStoreContractTests : InputStateStoreContractTests, IDisposable
{
    private readonly TempDirectory _root = new("local-contract");

    public void Dispose() => _root.Dispose();

    protected override Task<IInputStateStore> CreateStoreAsync() =>
        Task.FromResult<IInputStateStore>(new LocalInputStateStore(_root.Combine("store")));
}

/// <summary>The store contract, run against the in-memory test store.</summary>
[Trait("Provider", "InMemory")]
public sealed class InMemoryStoreContractTests : InputStateStoreContractTests
{
    protected override Task<IInputStateStore> CreateStoreAsync() =>
        Task.FromResult<IInputStateStore>(new InMemoryInputStateStore());
}
