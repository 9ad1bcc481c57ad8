using TorchSharp;

namespace InputPipeline.Checkpointing.TorchSharp.Tests;

/// <summary>
/// The training state on its own, through its public API: a capture restored into freshly built objects continues
/// exactly as the uninterrupted run (loss bits and parameter bytes), and every kind of saved state that does not fit is
/// refused with a typed error.
/// </summary>
public sealed class TorchTrainingStateTests
{
    [Theory]
    [InlineData(7)]  // between two decays of the schedule
    [InlineData(10)] // on a decay: rebuilding the scheduler after loading the optimizer would halve the rate twice
    public async Task RestoredIntoFreshObjects_ContinuesBitForBitLikeTheUninterruptedRun(int savedAt)
    {
        TorchTrainingState uninterrupted = TestJob.NewState();
        List<uint> reference = TestJob.Train(uninterrupted, 0, 30);
        byte[] referenceParameters = TestJob.Parameters(uninterrupted);

        TorchTrainingState first = TestJob.NewState();
        TestJob.Train(first, 0, savedAt);
        byte[] saved = await TestJob.SaveAsync(first);
        TorchTrainingState resumed = TestJob.NewState();
        await resumed.RestoreStateAsync(new MemoryStream(saved));
        Assert.Equal(savedAt, resumed.SchedulerSteps);
        List<uint> continued = TestJob.Train(resumed, savedAt, 30);

        Assert.Equal(reference.Skip(savedAt), continued);
        Assert.Equal(referenceParameters, TestJob.Parameters(resumed));
        Assert.Equal(
            uninterrupted.Optimizer.ParamGroups.Select(g => g.LearningRate),
            resumed.Optimizer.ParamGroups.Select(g => g.LearningRate));
    }

    [Fact]
    public async Task TheRandomGeneratorIsPartOfTheState_ReseedingAfterTheRestoreChangesTheLosses()
    {
        // The control for the test above: dropout draws from torch's generator, so a restore that left the generator
        // alone could not continue the same; here the generator is disturbed after the restore, and the losses differ.
        TorchTrainingState uninterrupted = TestJob.NewState();
        List<uint> reference = TestJob.Train(uninterrupted, 0, 20);
        TorchTrainingState first = TestJob.NewState();
        TestJob.Train(first, 0, 10);
        byte[] saved = await TestJob.SaveAsync(first);

        TorchTrainingState resumed = TestJob.NewState();
        await resumed.RestoreStateAsync(new MemoryStream(saved));
        torch.manual_seed(12345);
        List<uint> continued = TestJob.Train(resumed, 10, 20);

        Assert.NotEqual(reference.Skip(10), continued);
    }

    [Fact]
    public async Task ASnapshot_HoldsTheStateOfItsCapture_NotOfLaterSteps()
    {
        TorchTrainingState state = TestJob.NewState();
        TestJob.Train(state, 0, 5);
        byte[] atFive = await TestJob.SaveAsync(state);
        byte[] again = await TestJob.SaveAsync(state);
        Assert.Equal(atFive, again);
        using ICheckpointSnapshot snapshot = state.CaptureState();
        TestJob.Train(state, 5, 12); // the job goes on while the snapshot waits for its upload
        var written = new MemoryStream();
        await snapshot.WriteToAsync(written);

        Assert.Equal(atFive, written.ToArray());
    }

    [Fact]
    public async Task AStateWithoutScheduler_RoundTrips_AndStepSchedulerIsRefused()
    {
        TorchTrainingState uninterrupted = TestJob.NewState(withScheduler: false);
        List<uint> reference = TestJob.Train(uninterrupted, 0, 12);
        TorchTrainingState first = TestJob.NewState(withScheduler: false);
        TestJob.Train(first, 0, 6);
        byte[] saved = await TestJob.SaveAsync(first);

        TorchTrainingState resumed = TestJob.NewState(withScheduler: false);
        await resumed.RestoreStateAsync(new MemoryStream(saved));

        Assert.Equal(reference.Skip(6), TestJob.Train(resumed, 6, 12));
        Assert.Null(resumed.Scheduler);
        Assert.Throws<InvalidOperationException>(resumed.StepScheduler);
    }

    [Fact]
    public async Task AModuleOfAnotherShape_IsAMismatch()
    {
        TorchTrainingState first = TestJob.NewState();
        TestJob.Train(first, 0, 3);
        byte[] saved = await TestJob.SaveAsync(first);
        TorchTrainingState wider = TestJob.NewState(hidden: 32);

        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => wider.RestoreStateAsync(new MemoryStream(saved)).AsTask());

        Assert.Contains("module", ex.Mismatch, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOptimizerOfAnotherType_IsAMismatch()
    {
        TorchTrainingState first = TestJob.NewState();
        TestJob.Train(first, 0, 3);
        byte[] saved = await TestJob.SaveAsync(first);
        TorchTrainingState sgd = TestJob.NewState(sgd: true);

        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => sgd.RestoreStateAsync(new MemoryStream(saved)).AsTask());

        Assert.Contains("optimizer", ex.Mismatch, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AScheduleSavedWithoutAFactoryHere_OrTheReverse_IsAMismatch_AndChangesNothing(bool savedWithScheduler)
    {
        TorchTrainingState first = TestJob.NewState(withScheduler: savedWithScheduler);
        TestJob.Train(first, 0, 3);
        byte[] saved = await TestJob.SaveAsync(first);
        TorchTrainingState other = TestJob.NewState(withScheduler: !savedWithScheduler);
        byte[] before = TestJob.Parameters(other);

        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => other.RestoreStateAsync(new MemoryStream(saved)).AsTask());

        Assert.Contains("schedule", ex.Mismatch, StringComparison.Ordinal);
        Assert.Equal(before, TestJob.Parameters(other));
    }

    [Fact]
    public async Task AGeneratorStateOfAnotherSize_IsAMismatch_NotACrash()
    {
        // libtorch aborts the process when handed a generator state of the wrong size: the state checks it first.
        TorchTrainingState first = TestJob.NewState();
        byte[] saved = await TestJob.SaveAsync(first);
        byte[] shorter = saved[..^16];
        BitConverter.GetBytes(BitConverter.ToInt64(saved, 32) - 16).CopyTo(shorter, 32); // a consistent header

        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(() => TestJob.NewState().RestoreStateAsync(new MemoryStream(shorter)).AsTask());

        Assert.Contains("generator", ex.Mismatch, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("empty")]
    [InlineData("magic")]
    [InlineData("truncated")]
    [InlineData("lengths")]
    public async Task BytesThatAreNotATrainingState_AreCorrupted(string damage)
    {
        byte[] saved = await TestJob.SaveAsync(TestJob.NewState());
        byte[] damaged = damage switch
        {
            "empty" => [],
            "magic" => [.. "NOTTORCH"u8, .. saved[8..]],
            "truncated" => saved[..^100],
            _ => Patched(saved, 16, BitConverter.GetBytes(BitConverter.ToInt64(saved, 16) + 8)),
        };

        await Assert.ThrowsAsync<CheckpointCorruptedException>(() => TestJob.NewState().RestoreStateAsync(new MemoryStream(damaged)).AsTask());
    }

    [Fact]
    public async Task AStateOfANewerFormat_IsRefusedWithItsVersion()
    {
        byte[] saved = await TestJob.SaveAsync(TestJob.NewState());
        byte[] newer = Patched(saved, 8, BitConverter.GetBytes(2));

        CheckpointFormatVersionException ex = await Assert.ThrowsAsync<CheckpointFormatVersionException>(() => TestJob.NewState().RestoreStateAsync(new MemoryStream(newer)).AsTask());

        Assert.Equal(2, ex.FoundVersion);
        Assert.Equal(1, ex.SupportedVersion);
    }

    [Fact]
    public async Task NullArguments_AreRefused()
    {
        TorchTrainingState state = TestJob.NewState();

        Assert.Throws<ArgumentNullException>(() => new TorchTrainingState(null!, state.Optimizer));
        Assert.Throws<ArgumentNullException>(() => new TorchTrainingState(state.Module, null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => state.RestoreStateAsync(null!).AsTask());
    }

    private static byte[] Patched(byte[] bytes, int offset, byte[] value)
    {
        byte[] copy = [.. bytes];
        value.CopyTo(copy, offset);
        return copy;
    }
}
