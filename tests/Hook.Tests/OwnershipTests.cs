using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>Two writers on one chain: exactly one keeps ownership, the other is fenced off for good.</summary>
public sealed class OwnershipTests : IDisposable
{
    private readonly TempDirectory _dir = new("hook-ownership");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task InterleavedSaves_TheFirstCommitWins_TheOtherLosesOwnershipForGood()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager first = Ckpt.Manager(store);
        using CheckpointManager second = Ckpt.Manager(store);
        await first.ListCheckpointsAsync();
        await second.ListCheckpointsAsync();
        var latest = new List<long>();

        await first.SaveAsync(1, Ckpt.Bytes(("a", [1]), ("b", [1])));
        latest.Add((await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        CheckpointOwnershipLostException lost = await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => second.SaveAsync(2, Ckpt.Bytes(("a", [2]), ("b", [2]))));
        latest.Add((await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        for (int step = 3; step <= 9; step += 2)
        {
            await first.SaveAsync(step, Ckpt.Bytes(("a", [(byte)step]), ("b", [])));
            latest.Add((await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
            await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => second.SaveAsync(step + 1, Ckpt.Bytes(("a", [0]), ("b", []))));
            latest.Add((await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        }

        Assert.Equal("input", lost.Chain);
        Assert.Equal("checkpoint_input", lost.StateFileKey);
        Assert.True(second.IsOwnershipLost);
        Assert.False(first.IsOwnershipLost);
        Assert.Equal(latest.Order(), latest);
        Assert.Equal(9, latest[^1]);
        Assert.Equal(first.WriterId, (await Ckpt.ReadStateFileAsync(store)).WriterId);
        Assert.Equal(9, (await Ckpt.RestoreBlobsAsync(store))!.Value.Step);
    }

    [Fact]
    public async Task ZombieOfAnOldJob_LosesOwnership_WhenTheNewJobHasCommitted()
    {
        var store = new InMemoryInputStateStore();
        using CheckpointManager zombie = Ckpt.Manager(store);
        await zombie.SaveAsync(10, Ckpt.Bytes(("a", [10]), ("b", [])));

        using CheckpointManager successor = Ckpt.Manager(store);
        (long restoredStep, _, _) = (await Ckpt.RestoreBlobsAsync(store))!.Value;
        await successor.SaveAsync(restoredStep + 5, Ckpt.Bytes(("a", [15]), ("b", [])));

        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => zombie.SaveAsync(20, Ckpt.Bytes(("a", [20]), ("b", []))));
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(() => zombie.SaveAsync(25, Ckpt.Bytes(("a", [25]), ("b", []))));
        await successor.SaveAsync(20, Ckpt.Bytes(("a", [21]), ("b", [])));

        (long step, byte[] a, _) = (await Ckpt.RestoreBlobsAsync(store))!.Value;
        Assert.Equal(20, step);
        Assert.Equal([21], a);
        Assert.True(zombie.IsOwnershipLost);
        Assert.False(successor.IsOwnershipLost);
    }

    [Fact]
    public async Task TwoHooksOnOneChain_TheSecondToCommitFencesTheFirst_AndLossAlwaysThrows()
    {
        var store = new InMemoryInputStateStore();
        var options = new CheckpointInputPipelineHookOptions { SaveSteps = 1, SaveInBackground = false, OnSaveFailure = SaveFailurePolicy.LogAndContinue };
        await using var oldHook = new CheckpointInputPipelineHook(store, options);
        await using var newHook = new CheckpointInputPipelineHook(store, options);
        var oldSession = new FakeSession();
        oldSession.Iterators.Add("iterator", new CountingIterator());
        var newSession = new FakeSession();
        newSession.Iterators.Add("iterator", new CountingIterator());
        await oldHook.BeforeRunAsync(new SessionRunContext(oldSession, Ckpt.Start));
        await newHook.BeforeRunAsync(new SessionRunContext(newSession, Ckpt.Start));
        Assert.NotNull(newHook.RestoredCheckpoint);

        newSession.GlobalStep = 1;
        await newHook.AfterRunAsync(new SessionRunContext(newSession, Ckpt.Start));
        oldSession.GlobalStep = 1;

        // Ownership loss is thrown even under LogAndContinue.
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(async () => await oldHook.AfterRunAsync(new SessionRunContext(oldSession, Ckpt.Start)));
        oldSession.GlobalStep = 2;
        await Assert.ThrowsAsync<CheckpointOwnershipLostException>(async () => await oldHook.EndAsync(oldSession));
        newSession.GlobalStep = 2;
        await newHook.AfterRunAsync(new SessionRunContext(newSession, Ckpt.Start));

        Assert.Equal(2, (await Ckpt.ReadStateFileAsync(store)).Latest!.Step);
        Assert.Equal(newHook.Manager.WriterId, (await Ckpt.ReadStateFileAsync(store)).WriterId);
    }

    [Fact]
    public async Task ConcurrentSavesFromTwoManagers_InMemory_ExactlyOneKeepsOwnership()
    {
        await ConcurrentWritersAsync(new InMemoryInputStateStore(), savesEach: 40);
    }

    [Fact]
    public async Task ConcurrentSavesFromTwoManagers_Local_ExactlyOneKeepsOwnership()
    {
        await ConcurrentWritersAsync(new LocalInputStateStore(_dir.Combine("store")), savesEach: 12);
    }

    [Fact]
    public async Task ConcurrentSavesFromTwoManagersOnSeparateLocalStoreInstances_ExactlyOneKeepsOwnership()
    {
        // Two processes on one directory: each has its own store instance over the same root.
        string root = _dir.Combine("shared");
        await ConcurrentWritersAsync(new LocalInputStateStore(root), savesEach: 12, new LocalInputStateStore(root));
    }

    private static async Task ConcurrentWritersAsync(IInputStateStore store, int savesEach, IInputStateStore? secondStore = null)
    {
        using CheckpointManager one = Ckpt.Manager(store, keepMax: 3);
        using CheckpointManager two = Ckpt.Manager(secondStore ?? store, keepMax: 3);
        await one.ListCheckpointsAsync();
        await two.ListCheckpointsAsync();
        var observedLatest = new System.Collections.Concurrent.ConcurrentQueue<(int Order, long Step)>();
        int order = 0;
        var gate = new SemaphoreSlim(1, 1);

        async Task<int> WriterAsync(CheckpointManager manager, int parity)
        {
            int lostCount = 0;
            for (int i = 0; i < savesEach; i++)
            {
                long step = (2 * i) + parity + 1;
                try
                {
                    await manager.SaveAsync(step, Ckpt.Bytes(("a", BitConverter.GetBytes(step)), ("b", [(byte)parity])));
                }
                catch (CheckpointOwnershipLostException)
                {
                    lostCount++;
                }

                await gate.WaitAsync();
                try
                {
                    byte[]? bytes = await Ckpt.ReadAllAsync(store, Ckpt.StateFile);
                    if (bytes is not null)
                    {
                        observedLatest.Enqueue((order++, CheckpointStateFile.Parse(bytes, Ckpt.StateFile).Latest!.Step));
                    }
                }
                finally
                {
                    gate.Release();
                }
            }

            return lostCount;
        }

        int[] lost = await Task.WhenAll(Task.Run(() => WriterAsync(one, 0)), Task.Run(() => WriterAsync(two, 1)));

        // One more save each, one after the other: exactly one of them may still commit.
        Exception? lastOne = await Record.ExceptionAsync(() => one.SaveAsync(1000, Ckpt.Bytes(("a", BitConverter.GetBytes(1000L)), ("b", [0]))));
        Exception? lastTwo = await Record.ExceptionAsync(() => two.SaveAsync(1001, Ckpt.Bytes(("a", BitConverter.GetBytes(1001L)), ("b", [1]))));

        Assert.True(one.IsOwnershipLost ^ two.IsOwnershipLost, $"exactly one writer must keep ownership (one lost: {one.IsOwnershipLost}, two lost: {two.IsOwnershipLost})");
        CheckpointManager winner = one.IsOwnershipLost ? two : one;
        CheckpointManager loser = one.IsOwnershipLost ? one : two;
        Assert.IsType<CheckpointOwnershipLostException>(winner == one ? lastTwo : lastOne);
        Assert.Null(winner == one ? lastOne : lastTwo);
        // Both started from the same (empty) view, so the loser never committed anything.
        Assert.Equal(0, loser.CommitCount);
        Assert.Equal(savesEach, lost[loser == one ? 0 : 1]);
        Assert.Equal(0, lost[winner == one ? 0 : 1]);

        long[] steps = [.. observedLatest.OrderBy(o => o.Order).Select(o => o.Step)];
        Assert.Equal(steps.Order(), steps);
        CheckpointStateFile final = await Ckpt.ReadStateFileAsync(store);
        Assert.Equal(winner.WriterId, final.WriterId);
        Assert.Equal(winner == one ? 1000 : 1001, final.Latest!.Step);
        (long restored, byte[] a, _) = (await Ckpt.RestoreBlobsAsync(store))!.Value;
        Assert.Equal(final.Latest.Step, restored);
        Assert.Equal(restored, BitConverter.ToInt64(a));
    }
}
