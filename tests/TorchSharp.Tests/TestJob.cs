using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Pipeline;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace InputPipeline.Checkpointing.TorchSharp.Tests;

/// <summary>
/// A small but complete training job for the tests: a perceptron with dropout, Adam, a step learning-rate schedule
/// that decays every <see cref="ScheduleStepSize"/> steps, and a shuffled, batched, prefetched pipeline of examples.
/// </summary>
internal static class TestJob
{
    public const int Features = 8;
    public const int Classes = 3;
    public const int ScheduleStepSize = 5;

    /// <summary>A freshly built training state, as a job builds it at every start (the same seed each time).</summary>
    public static TorchTrainingState NewState(int hidden = 16, bool withScheduler = true, bool sgd = false)
    {
        torch.manual_seed(42);
        Sequential model = Sequential(
            ("fc1", Linear(Features, hidden)),
            ("relu", ReLU()),
            ("drop", Dropout(0.5)),
            ("fc2", Linear(hidden, Classes)));
        OptimizerHelper optimizer = sgd ? torch.optim.SGD(model.parameters(), 0.05) : torch.optim.Adam(model.parameters(), 0.01);
        return new TorchTrainingState(model, optimizer, withScheduler ? Schedule : null);
    }

    public static torch.optim.lr_scheduler.LRScheduler Schedule(OptimizerHelper optimizer, int lastEpoch) =>
        torch.optim.lr_scheduler.StepLR(optimizer, ScheduleStepSize, 0.5, last_epoch: lastEpoch);

    /// <summary>The pipeline: examples 0..255 repeated, shuffled, batched by 8, prefetched, as tensors.</summary>
    public static ICheckpointableIterator<TensorBatch> Batches() =>
        Dataset.Range(0, 256)
            .Repeat()
            .Shuffle(64, 7)
            .Batch(8, dropRemainder: true)
            .Prefetch(2)
            .CreateTensorIterator(examples => TensorBatch.FromExamples(examples, Features, WriteExample), "batches");

    public static long WriteExample(long example, Span<float> features)
    {
        for (int i = 0; i < features.Length; i++)
        {
            features[i] = MathF.Sin((example * 0.37f) + i) + (example % Classes * 0.5f);
        }

        return example % Classes;
    }

    /// <summary>One training step; returns the loss's bits.</summary>
    public static uint Step(TorchTrainingState state, TensorBatch batch)
    {
        float loss;
        using (torch.NewDisposeScope())
        {
            state.Optimizer.zero_grad();
            torch.Tensor output = functional.cross_entropy(((Sequential)state.Module).forward(batch.Input), batch.Target);
            output.backward();
            loss = output.item<float>();
        }

        state.Optimizer.step();
        if (state.Scheduler is not null)
        {
            state.StepScheduler();
        }

        return BitConverter.SingleToUInt32Bits(loss);
    }

    /// <summary>A fixed batch (the examples first .. first + 7), for tests that need no pipeline.</summary>
    public static TensorBatch FixedBatch(long first) =>
        TensorBatch.FromExamples([.. Enumerable.Range(0, 8).Select(i => first + i)], Features, WriteExample);

    /// <summary>Trains on fixed batches for steps <paramref name="from"/>+1 .. <paramref name="to"/>; returns each step's loss bits.</summary>
    public static List<uint> Train(TorchTrainingState state, int from, int to)
    {
        var losses = new List<uint>();
        for (int step = from + 1; step <= to; step++)
        {
            using TensorBatch batch = FixedBatch(step * 8);
            losses.Add(Step(state, batch));
        }

        return losses;
    }

    /// <summary>Every parameter's bytes, in state-dict order.</summary>
    public static byte[] Parameters(TorchTrainingState state) =>
        [.. state.Module.parameters().SelectMany(p => p.bytes.ToArray())];

    public static async Task<byte[]> SaveAsync(TorchTrainingState state)
    {
        using ICheckpointSnapshot snapshot = state.CaptureState();
        var bytes = new MemoryStream();
        await snapshot.WriteToAsync(bytes);
        Assert.Equal(snapshot.Length, bytes.Length);
        return bytes.ToArray();
    }

    /// <summary>
    /// Runs the job with <see cref="TorchCheckpointing"/> in a plain loop until <paramref name="lastStep"/>, logging each
    /// step's loss bits; <paramref name="crashAfter"/> makes the step after it throw, as a crash would end the process.
    /// </summary>
    public static async Task<(long Resumed, long Reached, Dictionary<long, uint> Losses)> RunAsync(IInputStateStore store, long lastStep, long? crashAfter = null, int saveSteps = 10)
    {
        TorchTrainingState state = NewState();
        var losses = new Dictionary<long, uint>();
        await using var checkpoints = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = saveSteps }, state);
        long resumed = await checkpoints.ResumeAsync();
        var session = new TrainingSession(resumed);
        await using ICheckpointableIterator<TensorBatch> batches = Batches();
        session.Iterators.Add("batches", batches);
        try
        {
            long reached = await new MonitoredTrainingSession(session, checkpoints.Hooks).RunAsync(
                async (context, ct) =>
                {
                    if (context.GlobalStep == crashAfter)
                    {
                        throw new SimulatedCrashException();
                    }

                    Assert.True(await batches.MoveNextAsync(ct));
                    losses[context.GlobalStep + 1] = Step(state, batches.Current);
                    return true;
                },
                lastStep);
            return (resumed, reached, losses);
        }
        catch (SimulatedCrashException)
        {
            return (resumed, session.GlobalStep, losses);
        }
    }

    internal sealed class SimulatedCrashException : Exception;
}
