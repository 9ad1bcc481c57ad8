using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.Preemption;
using InputPipeline.Checkpointing.Samples;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SpotTraining;

/// <summary>The SpotTraining job: its services, its training run, and how its outcome becomes an exit code.</summary>
public static class SpotTrainingJob
{
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
            nameof(SpotTraining),
            builder =>
            {
                builder.Services.AddInputPipelineCheckpointing(builder.Configuration)
                    .AddAzureBlobStore()
                    .AddS3Store()
                    .AddGcsStore()
                    .AddPreemptionHandling(); // SIGTERM/Ctrl+C, and the cloud notices enabled under InputPipelineCheckpointing:Preemption
                builder.Services.AddOptions<TrainingOptions>().Bind(builder.Configuration.GetSection(TrainingOptions.SectionName)).ValidateOnStart();
                builder.Services.AddSingleton<IValidateOptions<TrainingOptions>, TrainingOptionsValidator>();
                configure?.Invoke(builder);
            },
            TrainAsync);

    private static async Task<JobResult> TrainAsync(JobContext job)
    {
        IServiceProvider services = job.Services;
        ILoggerFactory loggers = services.GetRequiredService<ILoggerFactory>();
        TrainingOptions training = services.GetRequiredService<IOptions<TrainingOptions>>().Value;
        InputPipelineCheckpointingOptions checkpointing = services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value;
        IReadOnlyList<string> files = SyntheticData.EnsureGenerated(training.DataDir, training.Seed);

        var config = new RunConfig
        {
            Store = services.GetRequiredService<IInputStateStore>(),
            SaveCheckpointsSteps = checkpointing.SaveSteps,
            SaveCheckpointsSecs = checkpointing.SaveSecs,
            KeepCheckpointMax = checkpointing.KeepMax,
            NumWorkerReplicas = checkpointing.NumWorkerReplicas,
            TaskType = checkpointing.TaskType,
            TaskId = checkpointing.TaskId,
            SaveInBackground = checkpointing.SaveInBackground,
            OnSaveFailure = checkpointing.OnSaveFailure,
            Ownership = checkpointing.Ownership,
            InputRestoreMode = InputRestoreMode.AtGlobalStep,
        };

        using var model = new BatchRecorder(training.BatchLog, training.StepDelayMs);

        // Stops after the step under way once a preemption is requested; the session's end then saves the model and the
        // input pipeline at that step, and (last in the list) acknowledges the notice once both are saved.
        PreemptionHook preemption = services.GetRequiredService<PreemptionHook>();
        using var estimator = new Estimator<string[]>(model, config, loggers);
        await using var input = new CheckpointInputPipelineHook(estimator);
        JobProgress progress = job.StartProgress(training.Steps);
        progress.Watch(estimator.ModelCheckpoints);
        progress.Watch(input.Manager);
        progress.Watch(preemption.Monitor);

        long reached = await estimator.TrainAsync(
            () => TrainingPipeline.Build(files, training).CreateIterator(),
            hooks: [input, progress, .. services.GetServices<ISessionRunHook>(), preemption],
            maxSteps: training.Steps,
            cancellationToken: CancellationToken.None).ConfigureAwait(false);

        return await progress.FinishAsync(reached, preemption.Monitor.Notice?.Reason).ConfigureAwait(false);
    }
}
