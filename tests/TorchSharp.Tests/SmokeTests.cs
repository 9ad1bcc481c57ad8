using TorchSharp;

namespace InputPipeline.Checkpointing.TorchSharp.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void LibTorchLoads() => Assert.Equal(3, torch.ones(3).sum().item<float>());
}
