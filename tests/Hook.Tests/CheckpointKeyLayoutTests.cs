using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>The key layout is one type: what the manager writes is exactly what the layout names and parses back.</summary>
public sealed class CheckpointKeyLayoutTests
{
    [Fact]
    public async Task EveryObjectASaveWrites_IsNamedByTheLayout_AndParsesBack()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager manager = Ckpt.Manager(store, chain: "input_worker_3");
        CheckpointReference saved = await manager.SaveAsync(120, Ckpt.Bytes(("iterator", [1, 2]), ("model.v2", [3])));
        CheckpointManifest manifest = await manager.ReadManifestAsync(saved);
        var layout = new CheckpointKeyLayout("input_worker_3");

        Assert.Equal(layout.StateFileKey, manager.StateFileKey);
        Assert.Equal("checkpoint_input_worker_3", layout.StateFileKey);
        Assert.Equal(layout.ChainPrefix, manager.ChainPrefix);
        Assert.Equal(layout.ManifestKey(120, manifest.SaveId), saved.ManifestKey);
        Assert.Equal([layout.PartKey(120, manifest.SaveId, "iterator"), layout.PartKey(120, manifest.SaveId, "model.v2")], manifest.Parts.Select(p => p.Key));
        string[] written = [layout.StateFileKey, saved.ManifestKey, .. manifest.Parts.Select(p => p.Key)];
        Assert.Equal(written.Order(StringComparer.Ordinal), await Ckpt.ListKeysAsync(store));

        Assert.True(CheckpointKeyLayout.TryParseObjectKey(saved.ManifestKey, out CheckpointObjectKey? parsedManifest));
        Assert.Equal(new CheckpointObjectKey("input_worker_3", 120, manifest.SaveId, null), parsedManifest);
        Assert.True(parsedManifest.IsManifest);
        Assert.True(CheckpointKeyLayout.TryParseObjectKey(manifest.Parts[1].Key, out CheckpointObjectKey? parsedPart));
        Assert.Equal(new CheckpointObjectKey("input_worker_3", 120, manifest.SaveId, "model.v2"), parsedPart);
        Assert.Equal(layout.SavePrefix(120, manifest.SaveId), CheckpointKeyLayout.SavePrefixOf(saved.ManifestKey));
    }

    [Theory]
    [InlineData("checkpoint_input")]
    [InlineData("input.ckpt-12.manifest")]
    [InlineData("input.ckpt-.abc.manifest")]
    [InlineData("input.ckpt-1x.abc.manifest")]
    [InlineData("input.ckpt-12.abc.part")]
    [InlineData("input.ckpt-12.abc.other")]
    [InlineData(".ckpt-12.abc.manifest")]
    [InlineData("bad name.ckpt-12.abc.manifest")]
    [InlineData("input.ckpt-12..manifest")]
    [InlineData("")]
    public void KeysThatAreNotAManifestOrPartOfAChain_DoNotParse(string key)
    {
        Assert.False(CheckpointKeyLayout.TryParseObjectKey(key, out CheckpointObjectKey? parsed));
        Assert.Null(parsed);
    }

    [Theory]
    [InlineData("checkpoint", true, "model")]
    [InlineData("checkpoint_input", true, "input")]
    [InlineData("checkpoint_model_worker_1", true, "model_worker_1")]
    [InlineData("checkpoint_", false, "")]
    [InlineData("input.ckpt-1.a.manifest", false, "")]
    public void StateFileKeys_NameTheirChain(string key, bool isStateFile, string chain)
    {
        Assert.Equal(isStateFile, CheckpointKeyLayout.TryParseStateFileKey(key, out string parsed));
        Assert.Equal(chain, parsed);
    }

    [Fact]
    public void WorkerChains_AndTheModelChain_FollowTensorFlowsNames()
    {
        Assert.Equal("input", new CheckpointInputPipelineHookOptions { SaveSteps = 1 }.Chain);
        Assert.Equal("input_ps_2", new CheckpointInputPipelineHookOptions { SaveSteps = 1, NumWorkerReplicas = 3, TaskType = "ps", TaskId = 2 }.Chain);
        CheckpointKeyLayout single = CheckpointKeyLayout.ForModel(1, "worker", 0);
        CheckpointKeyLayout several = CheckpointKeyLayout.ForModel(2, "worker", 1);

        Assert.Equal(("model", "checkpoint"), (single.Chain, single.StateFileKey));
        Assert.Equal(("model_worker_1", "checkpoint_model_worker_1"), (several.Chain, several.StateFileKey));
        Assert.Equal("checkpoint", CheckpointKeyLayout.WriterStateFileKeyOf("model"));
        Assert.Equal("checkpoint_model_worker_1", CheckpointKeyLayout.WriterStateFileKeyOf("model_worker_1"));
        using var estimator = new Estimator<long>(new NullModel(), new RunConfig { Store = new InMemoryInputStateStore(), SaveCheckpointsSteps = 1, NumWorkerReplicas = 2, TaskId = 1 });
        Assert.Equal((several.Chain, several.StateFileKey), (estimator.ModelCheckpoints.Chain, estimator.ModelCheckpoints.StateFileKey));
    }

    [Theory]
    [InlineData("input.ckpt")]
    [InlineData("a..b")]
    [InlineData("")]
    [InlineData("-input")]
    public void AnInvalidChain_IsRejected(string chain)
    {
        Assert.False(CheckpointKeyLayout.IsValidChain(chain));
        Assert.Throws<ArgumentException>(() => new CheckpointKeyLayout(chain));
    }

    private sealed class NullModel : IEstimatorModel<long>
    {
        public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.CopyOf([]);

        public ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask TrainStepAsync(long batch, long globalStep, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<long> batches, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IReadOnlyDictionary<string, double>>(new Dictionary<string, double>());
    }
}
