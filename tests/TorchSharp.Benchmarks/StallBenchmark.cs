using System.Diagnostics;
using InputPipeline.Checkpointing.Benchmarks;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace InputPipeline.Checkpointing.TorchSharp.Benchmarks;

/// <summary>
/// Goal 9: the training thread's stall per checkpoint of a model of more than 10 M parameters with Adam, checkpointed by
/// <see cref="TorchCheckpointing"/> to the Local store in a real training loop (background saving), against
/// <c>Module.save</c> plus <c>save_state_dict</c> into a reused <see cref="MemoryStream"/>, measured on the same model
/// in the same run.
/// </summary>
internal static class StallBenchmark
{
    private const int Width = 2048;
    private const int SaveSteps = 20;

    public static async Task<BenchmarkResult> RunAsync(int checkpoints, TextWriter log)
    {
        torch.manual_seed(1);
        using Sequential model = Sequential(
            ("fc1", Linear(Width, Width)),
            ("relu1", ReLU()),
            ("drop", Dropout(0.1)),
            ("fc2", Linear(Width, Width)),
            ("relu2", ReLU()),
            ("fc3", Linear(Width, Width)));
        using Adam optimizer = torch.optim.Adam(model.parameters(), 1e-4);
        long parameters = model.parameters().Sum(p => p.numel());
        var state = new TorchTrainingState(model, optimizer, (o, last) => torch.optim.lr_scheduler.StepLR(o, 100, 0.5, last_epoch: last));
        using torch.Tensor input = torch.randn(4, Width);
        using torch.Tensor target = torch.randn(4, Width);

        using var temp = new TempDirectory("torch-stall");
        var store = new LocalInputStateStore(new LocalStoreOptions { Path = temp.Path });
        var stalls = new List<double>();
        var baselines = new List<double>();
        var buffer = new MemoryStream();
        long bytes = 0;
        long stepTicks = 0;
        long steps = 0;
        await using (var checkpointing = new TorchCheckpointing(store, new CheckpointInputPipelineHookOptions { SaveSteps = SaveSteps, KeepMax = 2 }, state))
        {
            var session = new TrainingSession(await checkpointing.ResumeAsync());
            await using ICheckpointableIterator<long[]> batches = Dataset.Range(0, 1_000_000).Shuffle(256, 3).Batch(4).Prefetch(2).CreateIterator("batches");
            session.Iterators.Add("batches", batches);
            var timed = new TimedHooks(checkpointing.Hooks);
            await new MonitoredTrainingSession(session, [timed]).RunAsync(
                async (context, ct) =>
                {
                    await batches.MoveNextAsync(ct);
                    long start = Stopwatch.GetTimestamp();
                    using (torch.NewDisposeScope())
                    {
                        optimizer.zero_grad();
                        functional.mse_loss(model.forward(input), target).backward();
                    }

                    optimizer.step();
                    state.StepScheduler();
                    stepTicks += Stopwatch.GetTimestamp() - start;
                    steps++;

                    // The baseline, half-way between two checkpoints, on the same thread and the same model: the
                    // serialisation a user would write by hand, into a reused in-memory buffer. Interleaved with the
                    // checkpoints, so that the machine's load weighs on both alike.
                    if ((context.GlobalStep + 1) % SaveSteps == SaveSteps / 2 && context.GlobalStep > SaveSteps)
                    {
                        buffer.Position = 0;
                        buffer.SetLength(0);
                        long baselineStart = Stopwatch.GetTimestamp();
                        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
                        {
                            model.save(writer);
                            optimizer.save_state_dict(writer);
                        }

                        double seconds = Stopwatch.GetElapsedTime(baselineStart).TotalSeconds;
                        bytes = buffer.Length;
                        if (context.GlobalStep > 2 * SaveSteps)
                        {
                            baselines.Add(seconds); // the first one warms the buffer up
                        }
                    }

                    return true;
                },
                (long)SaveSteps * (checkpoints + 2));

            // The first periodic checkpoint warms the pooled buffer up; the final save at the end waits for the last upload.
            stalls.AddRange(timed.AfterRunSeconds.Where(s => s.Step % SaveSteps == 0 && s.Step > SaveSteps).Select(s => s.Seconds));
        }

        double ours = Harness.Median(stalls) * 1000;
        double baseline = Harness.Median(baselines) * 1000;
        double stepMs = TimeSpan.FromTicks(stepTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency).TotalMilliseconds / steps;
        log.WriteLine($"  {parameters / 1e6:0.0} M parameters, {bytes / 1048576.0:0} MiB serialised; {stalls.Count} checkpoints, every {SaveSteps} steps of {stepMs:0.0} ms; stalls (ms): {string.Join(", ", stalls.Select(s => (s * 1000).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}; baseline median {baseline:0.0} ms");
        return new BenchmarkResult(
            $"9. training-thread stall per checkpoint, {parameters / 1e6:0.0} M params + Adam, Local",
            ours,
            baseline,
            "ms",
            Goal.AtMost(2.0),
            $"median time in the two chains' hooks at a checkpoint step vs Module.save + save_state_dict into a reused MemoryStream ({bytes / 1048576.0:0} MiB)");
    }

    /// <summary>Calls the hooks in order and records, per step, the time their AfterRunAsync calls took together.</summary>
    private sealed class TimedHooks(IReadOnlyList<ISessionRunHook> hooks) : ISessionRunHook
    {
        public List<(long Step, double Seconds)> AfterRunSeconds { get; } = [];

        public async ValueTask BeginAsync(CancellationToken cancellationToken = default)
        {
            foreach (ISessionRunHook hook in hooks)
            {
                await hook.BeginAsync(cancellationToken);
            }
        }

        public async ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default)
        {
            foreach (ISessionRunHook hook in hooks)
            {
                await hook.AfterCreateSessionAsync(session, cancellationToken);
            }
        }

        public async ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            foreach (ISessionRunHook hook in hooks)
            {
                await hook.BeforeRunAsync(context, cancellationToken);
            }
        }

        public async ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            long start = Stopwatch.GetTimestamp();
            foreach (ISessionRunHook hook in hooks)
            {
                await hook.AfterRunAsync(context, cancellationToken);
            }

            AfterRunSeconds.Add((context.GlobalStep, Stopwatch.GetElapsedTime(start).TotalSeconds));
        }

        public async ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default)
        {
            foreach (ISessionRunHook hook in hooks)
            {
                await hook.EndAsync(session, cancellationToken);
            }
        }
    }
}
