using System.Diagnostics;
using System.Globalization;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.Preemption;
using InputPipeline.Checkpointing.Samples;
using InputPipeline.Checkpointing.TorchSharp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TorchSharp;
using TorchSharp.Modules;

namespace SpotTorch;

/// <summary>The SpotTorch job: its services, its training run, and what it prints when it ends.</summary>
public static class SpotTorchJob
{
    private const int ShuffleBuffer = 1024;
    private const int BatchSize = 64;

    /// <summary>Runs the job with the command line <paramref name="args"/> and returns its exit code (<see cref="JobExitCodes"/>).</summary>
    /// <param name="args">The command line: <c>--Section:Key=value</c> settings, and <c>--verbose</c>.</param>
    /// <param name="configure">
    /// Adds to the job's services after its own, or <see langword="null"/> (the default). A test host uses it to register a
    /// store provider of its own; every <see cref="ISessionRunHook"/> registered there runs in training too, after the
    /// checkpointing hooks and before the preemption hook.
    /// </param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(string[] args, Action<HostApplicationBuilder>? configure = null) =>
        JobHost.RunAsync(
            args,
            nameof(SpotTorch),
            builder =>
            {
                builder.Services.AddInputPipelineCheckpointing(builder.Configuration)
                    .AddAzureBlobStore()
                    .AddS3Store()
                    .AddGcsStore()
                    .AddPreemptionHandling() // SIGTERM/Ctrl+C, and the cloud notices enabled under InputPipelineCheckpointing:Preemption
                    .AddTorchSharpCheckpointing();
                builder.Services.AddOptions<TrainingOptions>().Bind(builder.Configuration.GetSection(TrainingOptions.SectionName)).ValidateOnStart();
                builder.Services.AddSingleton<IValidateOptions<TrainingOptions>, TrainingOptionsValidator>();
                configure?.Invoke(builder);
            },
            TrainAsync);

    private static async Task<JobResult> TrainAsync(JobContext job)
    {
        IServiceProvider services = job.Services;
        TrainingOptions training = services.GetRequiredService<IOptions<TrainingOptions>>().Value;
        IReadOnlyList<string> files = SyntheticData.EnsureGenerated(training.DataDir, training.Seed);

        torch.set_num_threads(training.Threads);
        using Sequential model = Classifier.Build(training.Seed);
        using Adam optimizer = Classifier.Optimizer(model);
        var state = new TorchTrainingState(model, optimizer, Classifier.Schedule);
        using var lossLog = new LossLog(training.LossLog);

        // Stops after the step under way once a preemption is requested; the session's end then saves both chains at that
        // step, and (last in the list) acknowledges the notice once they are committed.
        PreemptionHook preemption = services.GetRequiredService<PreemptionHook>();
        await using TorchCheckpointing checkpoints = services.GetRequiredService<TorchCheckpointingFactory>().Create(state);

        // Both chains must hold the final step for the run to count as done: weights and data are restored together.
        JobProgress progress = job.StartProgress(training.Steps);
        progress.Watch(checkpoints.ModelCheckpoints);
        progress.Watch(checkpoints.InputHook.Manager);
        progress.Watch(preemption.Monitor);

        long started = Stopwatch.GetTimestamp();
        long resumed = await checkpoints.ResumeAsync().ConfigureAwait(false);
        var session = new TrainingSession(resumed);
        await using ICheckpointableIterator<TensorBatch> batches = Dataset.Files(files)
            .Interleave(path => Dataset.Records(path), cycleLength: 4, blockLength: 2)
            .Repeat()
            .Shuffle(ShuffleBuffer, (ulong)training.Seed)
            .Batch(BatchSize, dropRemainder: true)
            .Prefetch(4)
            .CreateTensorIterator(records => TensorBatch.FromExamples(records, SyntheticData.Features, SyntheticData.ReadExample), "batches");
        session.Iterators.Add("batches", batches);
        long reached = await new MonitoredTrainingSession(session, [.. checkpoints.Hooks, progress, .. services.GetServices<ISessionRunHook>(), preemption]).RunAsync(
            async (context, cancellationToken) =>
            {
                if (!await batches.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                float loss = Classifier.TrainStep(model, optimizer, batches.Current);
                state.StepScheduler();
                lossLog.Append(context.GlobalStep + 1, loss);
                return true;
            },
            training.Steps,
            CancellationToken.None).ConfigureAwait(false);
        TimeSpan trainingTime = Stopwatch.GetElapsedTime(started);

        JobResult verdict = await progress.FinishAsync(reached, preemption.Monitor.Notice?.Reason).ConfigureAwait(false);
        if (verdict.ExitCode != JobExitCodes.Done)
        {
            return verdict;
        }

        // SpotTorch's documented output on exit 0 (README, Contract): "Reached global step N of M." at the target (the
        // shared verdict's line after a stop), the time this run trained (tests/TorchSharp.Benchmarks reads it), and last
        // the hash of the final parameters.
        return new JobResult(
            JobExitCodes.Done,
            reached >= training.Steps ? string.Create(CultureInfo.InvariantCulture, $"Reached global step {reached} of {training.Steps}.") : verdict.Message)
        {
            Output =
            [
                string.Create(CultureInfo.InvariantCulture, $"Trained {reached - resumed} steps in {trainingTime.TotalSeconds:0.000} s."),
                "params " + Classifier.ParameterHash(model),
            ],
        };
    }
}
