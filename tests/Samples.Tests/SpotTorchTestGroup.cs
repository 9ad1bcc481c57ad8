namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// The SpotTorch test classes, run one after another (each one's tests already run one at a time): every test starts
/// TorchSharp child processes, whose training speed the kill tests time their kills by.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SpotTorchTestGroup
{
    public const string Name = "SpotTorch";
}
