using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// Two chains saved at the same steps keep the newest step both committed, whatever KeepMax says, so that failed saves
/// on one chain never leave a restart without a step where weights and data agree.
/// </summary>
public sealed class AlignedRetentionTests
{
    [Fact]
    public async Task WithoutALink_FailedInputSavesLetTheModelChainDropEveryStepTheChainsShare()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager model = Manager(store, "model", keepMax: 2);
        using CheckpointManager input = Manager(store, "input", keepMax: 2);

        await SaveAsync(model, input, [0, 10]);
        await SaveAsync(model, null, [20, 30, 40]);

        Assert.Equal(new long[] { 40L, 30L }, await StepsAsync(model));
        Assert.Equal(new long[] { 10L, 0L }, await StepsAsync(input));
    }

    [Fact]
    public async Task WithALink_TheModelChainKeepsTheNewestStepBothCommitted_AsOneMoreThanKeepMax()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager model = Manager(store, "model", keepMax: 2);
        using CheckpointManager input = Manager(store, "input", keepMax: 2);
        using var link = new AlignedRetention(model, input);

        await SaveAsync(model, input, [0, 10]);
        await SaveAsync(model, null, [20, 30, 40]);

        Assert.Equal(10, link.CommonStep);
        Assert.Equal((10L, 10L), (model.ProtectedStep, input.ProtectedStep));
        Assert.Equal(new long[] { 40L, 30L, 10L }, await StepsAsync(model));
        Assert.Equal(new long[] { 10L, 0L }, await StepsAsync(input));
        Assert.DoesNotContain(store.Keys, k => k.StartsWith("model.ckpt-20.", StringComparison.Ordinal));
        Assert.Contains(store.Keys, k => k.StartsWith("model.ckpt-10.", StringComparison.Ordinal));

        // Once the input chain commits again, the newer common step takes over and the old one goes at the next commit.
        await SaveAsync(null, input, [40]);
        Assert.Equal(40, link.CommonStep);
        await SaveAsync(model, input, [50]);
        Assert.Equal(new long[] { 50L, 40L }, await StepsAsync(model));
        Assert.Equal(new long[] { 50L, 40L }, await StepsAsync(input));
        Assert.DoesNotContain(store.Keys, k => k.StartsWith("model.ckpt-10.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MarkCommon_ProtectsAResumeStep_AndAnOlderMarkDoesNotMoveTheProtectionBack()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager model = Manager(store, "model", keepMax: 1);
        using CheckpointManager input = Manager(store, "input", keepMax: 1);
        using var link = new AlignedRetention(model, input);

        link.MarkCommon(30);
        link.MarkCommon(20);
        await SaveAsync(model, null, [30, 40, 50]);

        Assert.Equal(30, link.CommonStep);
        Assert.Equal(new long[] { 50L, 30L }, await StepsAsync(model));
    }

    [Fact]
    public async Task Dispose_ClearsTheProtectedSteps_AndStopsFollowingCommits()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager model = Manager(store, "model", keepMax: 1);
        using CheckpointManager input = Manager(store, "input", keepMax: 1);
        var link = new AlignedRetention(model, input);
        await SaveAsync(model, input, [0]);

        link.Dispose();
        link.Dispose();
        await SaveAsync(model, input, [10]);

        Assert.Equal((null, null), (model.ProtectedStep, input.ProtectedStep));
        Assert.Equal(0, link.CommonStep);
        Assert.Equal(new long[] { 10L }, await StepsAsync(model));
        Assert.Throws<ObjectDisposedException>(() => link.MarkCommon(10));
    }

    [Fact]
    public void BadArguments_AreRefused()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager model = Manager(store, "model", keepMax: 1);
        using CheckpointManager sameChain = Manager(store, "model", keepMax: 1);

        Assert.Throws<ArgumentNullException>(() => new AlignedRetention((IReadOnlyList<CheckpointManager>)null!));
        Assert.Throws<ArgumentNullException>(() => new AlignedRetention(model, null!));
        Assert.Contains("1 given", Assert.Throws<ArgumentException>(() => new AlignedRetention(model)).Message, StringComparison.Ordinal);
        Assert.Contains("repeat", Assert.Throws<ArgumentException>(() => new AlignedRetention(model, sameChain)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ProtectedStep = -1);
        using var link = new AlignedRetention(model, Manager(store, "input", keepMax: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => link.MarkCommon(-1));
    }

    [Fact]
    public async Task AnEstimatorWhoseInputSavesFail_KeepsAStepToResumeFrom_AndTheNextJobResumesThere()
    {
        var memory = new InMemoryInputStateStore();
        var store = new FaultInjectingInputStateStore(memory);
        store.Arm(Fault.Fail.When(call => call.Operation == StoreOperation.Write && call.Key.StartsWith("input.ckpt-", StringComparison.Ordinal)
            && long.Parse(call.Key.Split('.')[1]["ckpt-".Length..], System.Globalization.CultureInfo.InvariantCulture) > 10).Repeatedly());
        using (var estimator = new Estimator<long>(new LinearModel(), Config(store)))
        {
            await using var hook = new CheckpointInputPipelineHook(estimator);
            Assert.Equal(40, await estimator.TrainAsync(() => new CountingIterator(), [hook], maxSteps: 40));
            Assert.Equal([40L, 35L, 10L], (await estimator.ModelCheckpoints.ListCheckpointsAsync()).Select(c => c.Step));
            Assert.Equal([10L, 5L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        }

        store.Disarm();
        var resumedModel = new LinearModel();
        using var resumed = new Estimator<long>(resumedModel, Config(store));
        await using var resumedHook = new CheckpointInputPipelineHook(resumed);
        Assert.Equal(45, await resumed.TrainAsync(() => new CountingIterator(), [resumedHook], maxSteps: 45));

        Assert.Equal(10, resumedHook.RestoredCheckpoint!.Step);
        Assert.Equal(1, resumedModel.RestoreCount);
    }

    private static RunConfig Config(IInputStateStore store) => new()
    {
        Store = store,
        SaveCheckpointsSteps = 5,
        KeepCheckpointMax = 2,
        SaveInBackground = false,
        OnSaveFailure = SaveFailurePolicy.LogAndContinue,
    };

    private static CheckpointManager Manager(IInputStateStore store, string chain, int keepMax) =>
        new(store, new CheckpointManagerOptions { Chain = chain, StateFileKey = CheckpointKeyLayout.StateFileKeyOf(chain), KeepMax = keepMax });

    private static async Task SaveAsync(CheckpointManager? model, CheckpointManager? input, long[] steps)
    {
        foreach (long step in steps)
        {
            foreach (CheckpointManager manager in new[] { model, input }.OfType<CheckpointManager>())
            {
                await manager.SaveAsync(step, Ckpt.Bytes(("state", BitConverter.GetBytes(step))));
            }
        }
    }

    private static async Task<long[]> StepsAsync(CheckpointManager manager) =>
        [.. (await manager.ListCheckpointsAsync()).Select(c => c.Step)];
}
