// SpotTraining: a training job for spot / preemptible VMs. It reads synthetic input files through a checkpointable
// pipeline (interleave → repeat → shuffle → batch → prefetch), checkpoints the pipeline and its "model" on the
// configured cadence into the configured store, and resumes exactly where the last committed checkpoint left off.
// On SIGTERM/Ctrl+C, or a cloud preemption notice (InputPipelineCheckpointing:Preemption:Aws|Azure|Gce, off by
// default), it finishes the current step, saves a final checkpoint there, and exits 0.
//
// Exit codes: 0 done (Training:Steps reached, or stopped cleanly by SIGTERM/Ctrl+C or a preemption notice after saving);
//             2 invalid configuration; 3 unusable data directory; 4 checkpoint failure; 1 anything else.
using System.Globalization;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.Preemption;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpotTraining;

const int ShuffleBuffer = 1024;
const int BatchSize = 32;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Services.AddInputPipelineCheckpointing(builder.Configuration)
    .AddAzureBlobStore()
    .AddS3Store()
    .AddGcsStore()
    .AddPreemptionHandling(); // SIGTERM/Ctrl+C, and the cloud notices enabled under InputPipelineCheckpointing:Preemption
builder.Services.AddOptions<TrainingOptions>().Bind(builder.Configuration.GetSection(TrainingOptions.SectionName)).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<TrainingOptions>, TrainingOptionsValidator>();

using IHost host = builder.Build();
try
{
    await host.StartAsync();
}
catch (OptionsValidationException ex)
{
    Console.Error.WriteLine($"Invalid configuration: {ex.Message}");
    return 2;
}

ILoggerFactory loggers = host.Services.GetRequiredService<ILoggerFactory>();
TrainingOptions training = host.Services.GetRequiredService<IOptions<TrainingOptions>>().Value;
InputPipelineCheckpointingOptions checkpointing = host.Services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value;

IReadOnlyList<string> files;
try
{
    files = SyntheticData.EnsureGenerated(training.DataDir, training.Seed);
}
catch (DataDirectoryException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 3;
}

var config = new RunConfig
{
    Store = host.Services.GetRequiredService<IInputStateStore>(),
    SaveCheckpointsSteps = checkpointing.SaveSteps,
    SaveCheckpointsSecs = checkpointing.SaveSecs,
    KeepCheckpointMax = checkpointing.KeepMax,
    NumWorkerReplicas = checkpointing.NumWorkerReplicas,
    TaskType = checkpointing.TaskType,
    TaskId = checkpointing.TaskId,
    OnSaveFailure = checkpointing.OnSaveFailure,
    Ownership = checkpointing.Ownership,
    InputRestoreMode = InputRestoreMode.AtGlobalStep,
};

using var model = new BatchRecorder(training.BatchLog, training.StepDelayMs);

// Stops after the step under way once a preemption is requested; the session's end then saves the model and the input
// pipeline at that step, and (last in the list) acknowledges the notice once both are committed.
PreemptionHook preemption = host.Services.GetRequiredService<PreemptionHook>();
using var estimator = new Estimator<string[]>(model, config, loggers);
long reached;
try
{
    reached = await estimator.TrainAsync(
        () => Dataset.Files(files)
            .Interleave(path => Dataset.TextLines(path), cycleLength: 4, blockLength: 2)
            .Repeat()
            .Shuffle(ShuffleBuffer, (ulong)training.Seed)
            .Batch(BatchSize, dropRemainder: true)
            .Prefetch(4)
            .CreateIterator(),
        hooks: [new CheckpointInputPipelineHook(estimator), preemption],
        maxSteps: training.Steps,
        cancellationToken: CancellationToken.None);
}
catch (CheckpointException ex)
{
    Console.Error.WriteLine($"Checkpoint failure: {ex.Message}");
    return 4;
}

Console.WriteLine(reached >= training.Steps
    ? string.Create(CultureInfo.InvariantCulture, $"Reached global step {reached} of {training.Steps}.")
    : string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {reached} of {training.Steps} after a stop request ({preemption.Monitor.Notice?.Reason}); the checkpoint at step {reached} is committed."));
await host.StopAsync();
return 0;
