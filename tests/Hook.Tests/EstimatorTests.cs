using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

public sealed class EstimatorTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-estimator");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Train_WritesModelCkptAndCheckpoint_BesideInputCkptAndCheckpointInput()
    {
        var store = new InMemoryInputStateStore();
        using var estimator = new Estimator<long>(new LinearModel(), Config(store));
        await using var hook = new CheckpointInputPipelineHook(estimator);

        long reached = await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 12);

        Assert.Equal(12, reached);
        Assert.Contains("checkpoint", store.Keys);
        Assert.Contains("checkpoint_input", store.Keys);
        Assert.Contains(store.Keys, k => k.StartsWith("model.ckpt-12.", StringComparison.Ordinal));
        Assert.Contains(store.Keys, k => k.StartsWith("input.ckpt-12.", StringComparison.Ordinal));
        Assert.All(store.Keys, k => Assert.True(k is "checkpoint" or "checkpoint_input" || k.StartsWith("model.ckpt-", StringComparison.Ordinal) || k.StartsWith("input.ckpt-", StringComparison.Ordinal), k));

        // The model's state file lists only model checkpoints, the input's only input checkpoints.
        Assert.All((await Ckpt.ReadStateFileAsync(store, "checkpoint")).Checkpoints, c => Assert.StartsWith("model.ckpt-", c.ManifestKey, StringComparison.Ordinal));
        Assert.All((await Ckpt.ReadStateFileAsync(store)).Checkpoints, c => Assert.StartsWith("input.ckpt-", c.ManifestKey, StringComparison.Ordinal));
        Assert.Equal("checkpoint", estimator.ModelCheckpoints.StateFileKey);
        Assert.Equal([12L, 10L, 5L, 0L], (await estimator.ModelCheckpoints.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Equal([12L, 10L, 5L, 0L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
    }

    [Fact]
    public async Task HookFromEstimator_TakesCadenceRetentionAndWorkerIdentityFromRunConfig()
    {
        var store = new InMemoryInputStateStore();
        RunConfig config = Config(store);
        config.NumWorkerReplicas = 2;
        config.TaskId = 1;
        config.KeepCheckpointMax = 2;
        using var estimator = new Estimator<long>(new LinearModel(), config);
        await using var hook = new CheckpointInputPipelineHook(estimator);

        await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 20);

        Assert.Equal("input_worker_1", hook.Chain);
        Assert.Equal([20L, 15L], (await Ckpt.ReadStateFileAsync(store, "checkpoint_input_worker_1")).Checkpoints.Select(c => c.Step));
        Assert.Equal([20L, 15L], (await Ckpt.ReadStateFileAsync(store, "checkpoint_model_worker_1")).Checkpoints.Select(c => c.Step));
        Assert.DoesNotContain("checkpoint", store.Keys);
        Assert.DoesNotContain("checkpoint_input", store.Keys);
        Assert.Contains(store.Keys, k => k.StartsWith("model_worker_1.ckpt-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NewEstimatorOnTheSameStore_ResumesModelAndInputAtStepS_AndTheDataStreamMatchesAnUninterruptedRun()
    {
        (List<(long Step, long Batch)> reference, double referenceWeight) = await UninterruptedRunAsync(20);
        var store = new InMemoryInputStateStore();

        var first = new LinearModel();
        using (var estimator = new Estimator<long>(first, Config(store)))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            Assert.Equal(12, await estimator.TrainAsync(() => new CountingIterator(), [hook], steps: 12));
        }

        var second = new LinearModel();
        using var resumed = new Estimator<long>(second, Config(store));
        await using var resumedHook = new CheckpointInputPipelineHook(resumed);
        var iterator = new CountingIterator();
        long reached = await resumed.TrainAsync(() => iterator, [resumedHook], maxSteps: 20);

        Assert.Equal(20, reached);
        Assert.Equal(1, second.RestoreCount);
        Assert.Equal(12, resumedHook.RestoredCheckpoint!.Step);
        Assert.Equal(1, iterator.RestoreCount);
        Assert.Equal(reference.Take(12), first.Trained);
        Assert.Equal(reference.Skip(12), second.Trained);
        Assert.Equal(referenceWeight, second.Weight);
        Assert.Equal(20, second.TrainedSteps);
    }

    [Fact]
    public async Task CrashMidTraining_NewEstimatorResumesAtTheLastCommonStep_AndReplaysTheSameBatches()
    {
        (List<(long Step, long Batch)> reference, double referenceWeight) = await UninterruptedRunAsync(20);
        var store = new InMemoryInputStateStore();

        var crashing = new LinearModel { ThrowAtStep = 13 };
        using (var estimator = new Estimator<long>(crashing, Config(store)))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            await Assert.ThrowsAsync<InvalidOperationException>(() => estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 20));
        }

        var second = new LinearModel();
        using var resumed = new Estimator<long>(second, Config(store));
        await using var resumedHook = new CheckpointInputPipelineHook(resumed);
        await resumed.TrainAsync(() => new CountingIterator(), [resumedHook], maxSteps: 20);

        Assert.Equal(10, resumedHook.RestoredCheckpoint!.Step);
        Assert.Equal(reference.Skip(10), second.Trained);
        Assert.Equal(referenceWeight, second.Weight);
    }

    [Fact]
    public async Task CrashMidTraining_WithBackgroundSaves_ReplaysTheSameBatchesFromWhateverStepWasCommitted()
    {
        (List<(long Step, long Batch)> reference, double referenceWeight) = await UninterruptedRunAsync(30);
        string path = _dir.Combine("model-dir");

        using (var estimator = new Estimator<long>(new LinearModel { ThrowAtStep = 23 }, new RunConfig { ModelDirectory = path, SaveCheckpointsSteps = 4 }))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            await Assert.ThrowsAsync<InvalidOperationException>(() => estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 30));
        }

        var second = new LinearModel();
        using var resumed = new Estimator<long>(second, new RunConfig { ModelDirectory = path, SaveCheckpointsSteps = 4 });
        await using var resumedHook = new CheckpointInputPipelineHook(resumed);
        await resumed.TrainAsync(() => new CountingIterator(), [resumedHook], maxSteps: 30);

        long s = resumedHook.RestoredCheckpoint!.Step;
        Assert.InRange(s, 16, 20);
        Assert.Equal(0, s % 4);
        Assert.Equal(reference.Skip((int)s), second.Trained);
        Assert.Equal(referenceWeight, second.Weight);
        Assert.IsType<LocalInputStateStore>(resumed.Store);
        Assert.True(File.Exists(Path.Combine(path, "checkpoint")));
        Assert.True(File.Exists(Path.Combine(path, "checkpoint_input")));
    }

    [Fact]
    public async Task Evaluate_DoesNotRestoreTheEvalPipelineFromTheTrainingCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        var model = new LinearModel();
        using var estimator = new Estimator<long>(model, Config(store));
        await using (var hook = new CheckpointInputPipelineHook(estimator))
        {
            await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 12);
        }

        string[] keysBefore = [.. store.Keys];
        var evalIterator = new CountingIterator(limit: 6);

        EvaluationResult result = await estimator.EvaluateAsync(() => evalIterator);

        Assert.Equal(0, evalIterator.RestoreCount);
        Assert.Equal(Enumerable.Range(0, 6).Select(p => CountingIterator.ValueAt(p)), model.Evaluated);
        Assert.Equal(6, result.Steps);
        Assert.Equal(12, result.GlobalStep);
        Assert.Equal(6, result.Metrics["count"]);
        Assert.Equal(keysBefore, store.Keys);
        Assert.True(evalIterator.IsDisposed);
    }

    [Fact]
    public async Task Evaluate_OnANewEstimator_RestoresTheModelButNotTheEvalPipeline()
    {
        var store = new InMemoryInputStateStore();
        var trained = new LinearModel();
        using (var estimator = new Estimator<long>(trained, Config(store)))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 10);
        }

        var model = new LinearModel();
        using var evaluator = new Estimator<long>(model, Config(store));
        var evalIterator = new CountingIterator(limit: 100);

        EvaluationResult result = await evaluator.EvaluateAsync(() => evalIterator, steps: 4);

        Assert.Equal(10, result.GlobalStep);
        Assert.Equal(trained.Weight, model.Weight);
        Assert.Equal(0, evalIterator.RestoreCount);
        Assert.Equal(4, result.Steps);
        Assert.Equal(Enumerable.Range(0, 4).Select(p => CountingIterator.ValueAt(p)), model.Evaluated);
    }

    [Fact]
    public async Task TrainAgain_OnTheSameEstimator_WithANewHook_ContinuesTheInput()
    {
        (List<(long Step, long Batch)> reference, _) = await UninterruptedRunAsync(15);
        var store = new InMemoryInputStateStore();
        var model = new LinearModel();
        using var estimator = new Estimator<long>(model, Config(store));

        for (int round = 0; round < 3; round++)
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            await estimator.TrainAsync(() => new CountingIterator(), [hook], steps: 5);
            await estimator.EvaluateAsync(() => new CountingIterator(limit: 2));
        }

        Assert.Equal(15, estimator.GlobalStep);
        Assert.Equal(reference, model.Trained);
    }

    [Fact]
    public async Task TrainWithoutTheInputHook_RestartsTheDataStream_ButResumesTheModel()
    {
        var store = new InMemoryInputStateStore();
        using (var estimator = new Estimator<long>(new LinearModel(), Config(store)))
        {
            await estimator.TrainAsync(() => new CountingIterator(), maxSteps: 5);
        }

        Assert.DoesNotContain("checkpoint_input", store.Keys);
        var model = new LinearModel();
        using var resumed = new Estimator<long>(model, Config(store));
        await resumed.TrainAsync(() => new CountingIterator(), maxSteps: 7);

        Assert.Equal([(6L, CountingIterator.ValueAt(0)), (7L, CountingIterator.ValueAt(1))], model.Trained);
    }

    [Fact]
    public async Task TrainAlreadyAtMaxSteps_RunsNothing()
    {
        var store = new InMemoryInputStateStore();
        using (var estimator = new Estimator<long>(new LinearModel(), Config(store)))
        {
            await estimator.TrainAsync(() => new CountingIterator(), maxSteps: 5);
        }

        var model = new LinearModel();
        using var resumed = new Estimator<long>(model, Config(store));
        bool created = false;

        long reached = await resumed.TrainAsync(
            () =>
            {
                created = true;
                return new CountingIterator();
            },
            maxSteps: 5);

        Assert.Equal(5, reached);
        Assert.False(created);
        Assert.Empty(model.Trained);
    }

    [Fact]
    public async Task InputExhausted_EndsTrainingNormally_WithFinalSaves()
    {
        var store = new InMemoryInputStateStore();
        using var estimator = new Estimator<long>(new LinearModel(), Config(store));
        await using var hook = new CheckpointInputPipelineHook(estimator);

        long reached = await estimator.TrainAsync(() => new CountingIterator(limit: 7), [hook]);

        Assert.Equal(7, reached);
        Assert.Equal(7, (await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        Assert.Equal(7, (await Ckpt.ReadStateFileAsync(store, "checkpoint")).Latest!.Step);
    }

    [Fact]
    public async Task End_RetriesAFinalModelSaveThatFailedAtTheLastStep()
    {
        // Same contract as the input hook: a failed save at the last step is not "a save at this step".
        var inner = new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(inner);
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.StartsWith("model.ckpt-10.", StringComparison.Ordinal)));
        using var estimator = new Estimator<long>(new LinearModel(), Config(store));
        await using var hook = new CheckpointInputPipelineHook(estimator);

        await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 10);

        Assert.Equal(10, (await Ckpt.ReadStateFileAsync(inner)).Latest!.Step);
        Assert.Equal(10, (await Ckpt.ReadStateFileAsync(inner, "checkpoint")).Latest!.Step);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(5, 10.0)]
    [InlineData(0, null)]
    [InlineData(null, -1.0)]
    public void Estimator_WithAnInvalidCadence_ThrowsOptionsException(int? steps, double? secs)
    {
        var config = new RunConfig { Store = new InMemoryInputStateStore(), SaveCheckpointsSteps = steps, SaveCheckpointsSecs = secs };

        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new Estimator<long>(new LinearModel(), config));

        Assert.Contains(steps is null && secs is < 0 ? "SaveSecs" : "SaveSteps", ex.OptionName, StringComparison.Ordinal);
    }

    [Fact]
    public void Estimator_WithoutStoreOrModelDirectory_ThrowsOptionsException()
    {
        CheckpointOptionsException ex = Assert.Throws<CheckpointOptionsException>(() => new Estimator<long>(new LinearModel(), new RunConfig { SaveCheckpointsSteps = 1 }));

        Assert.Equal("ModelDirectory", ex.OptionName);
    }

    [Fact]
    public void Estimator_StorePrecedesModelDirectory()
    {
        var store = new InMemoryInputStateStore();
        using var estimator = new Estimator<long>(new LinearModel(), new RunConfig { Store = store, ModelDirectory = _dir.Combine("unused"), SaveCheckpointsSecs = 60 });

        Assert.Same(store, estimator.Store);
        Assert.False(Directory.Exists(_dir.Combine("unused")));
    }

    [Fact]
    public void RunConfig_DefaultsAndTheHookOptionsItImplies()
    {
        var config = new RunConfig { SaveCheckpointsSteps = 9, KeepCheckpointMax = 4, TaskType = "ps", TaskId = 2, NumWorkerReplicas = 3, SaveInBackground = false, OnSaveFailure = SaveFailurePolicy.Throw };

        CheckpointInputPipelineHookOptions options = config.ToInputHookOptions();

        Assert.Equal(InputRestoreMode.AtGlobalStep, new RunConfig().InputRestoreMode);
        Assert.Equal(9, options.SaveSteps);
        Assert.Null(options.SaveSecs);
        Assert.Equal(4, options.KeepMax);
        Assert.Equal("input_ps_2", options.Chain);
        Assert.False(options.SaveInBackground);
        Assert.Equal(SaveFailurePolicy.Throw, options.OnSaveFailure);
        Assert.Equal(InputRestoreMode.AtGlobalStep, options.RestoreMode);
    }

    [Fact]
    public async Task TrainArguments_AreChecked()
    {
        using var estimator = new Estimator<long>(new LinearModel(), Config(new InMemoryInputStateStore()));

        await Assert.ThrowsAsync<ArgumentNullException>(() => estimator.TrainAsync(null!));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => estimator.TrainAsync(() => new CountingIterator(), steps: -1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => estimator.TrainAsync(() => new CountingIterator(), maxSteps: -1));
        Assert.Throws<ArgumentNullException>(() => new CheckpointInputPipelineHook((IEstimator)null!));
    }

    [Fact]
    public async Task Resume_WithADamagedLatestInputCheckpoint_StepsBackToThePreviousCommonStep_AndTheStreamStillMatches()
    {
        (List<(long Step, long Batch)> reference, _) = await UninterruptedRunAsync(20);
        var store = new InMemoryInputStateStore();
        using (var estimator = new Estimator<long>(new LinearModel(), Config(store)))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            await estimator.TrainAsync(() => new CountingIterator(), [hook], steps: 12);
        }

        CheckpointStateFile inputs = await Ckpt.ReadStateFileAsync(store);
        CheckpointManifest latest = await Ckpt.ReadManifestAsync(store, inputs.Checkpoints[0].ManifestKey);
        Assert.Equal(12, latest.Step);
        store.Corrupt(latest.Parts[0].Key, b => { b[^1] ^= 0xFF; return b; });

        var model = new LinearModel();
        using var resumed = new Estimator<long>(model, Config(store));
        await using var resumedHook = new CheckpointInputPipelineHook(resumed);
        await resumed.TrainAsync(() => new CountingIterator(), [resumedHook], maxSteps: 20);

        Assert.Equal(10, resumedHook.RestoredCheckpoint!.Step);
        Assert.Equal(reference.Where(r => r.Step > 10), model.Trained);
    }

    [Fact]
    public async Task Resume_WhenNoCommonStepIsSound_FailsClearlyInsteadOfLettingWeightsAndDataDisagree()
    {
        var store = new InMemoryInputStateStore();
        using (var estimator = new Estimator<long>(new LinearModel(), Config(store)))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            await estimator.TrainAsync(() => new CountingIterator(), [hook], steps: 7);
        }

        foreach (CheckpointReference checkpoint in (await Ckpt.ReadStateFileAsync(store)).Checkpoints)
        {
            CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, checkpoint.ManifestKey);
            store.Corrupt(manifest.Parts[0].Key, b => b[..^1]);
        }

        using var resumed = new Estimator<long>(new LinearModel(), Config(store));
        await using var resumedHook = new CheckpointInputPipelineHook(resumed);
        var error = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => resumed.TrainAsync(() => new CountingIterator(), [resumedHook], maxSteps: 20));

        Assert.Contains("model", error.Message, StringComparison.Ordinal);
        Assert.Contains("input", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_PassesOnASoundCheckpoint_AndNamesTheDamagedPart()
    {
        var store = new InMemoryInputStateStore();
        using var manager = Ckpt.Manager(store);
        CheckpointReference checkpoint = await manager.SaveAsync(3, Ckpt.Bytes(("a", [1, 2, 3]), ("b", [4, 5, 6])));

        CheckpointManifest verified = await manager.VerifyAsync(checkpoint);
        store.Corrupt(verified.Parts[1].Key, b => { b[1] ^= 1; return b; });
        var error = await Assert.ThrowsAsync<CheckpointCorruptedException>(() => manager.VerifyAsync(checkpoint));

        Assert.Equal(2, verified.Parts.Count);
        Assert.Equal(verified.Parts[1].Key, error.Key);
        Assert.Contains("checksum", error.Message, StringComparison.Ordinal);
    }

    private static RunConfig Config(IInputStateStore store) => new()
    {
        Store = store,
        SaveCheckpointsSteps = 5,
        SaveInBackground = false,
    };

    private static async Task<(List<(long Step, long Batch)> Trained, double Weight)> UninterruptedRunAsync(int steps)
    {
        var model = new LinearModel();
        using var estimator = new Estimator<long>(model, Config(new InMemoryInputStateStore()));
        await using var hook = new CheckpointInputPipelineHook(estimator);
        await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: steps);
        return (model.Trained, model.Weight);
    }
}
