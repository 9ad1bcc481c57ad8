// SpotTraining: a training job for spot / preemptible VMs. It reads synthetic input files through a checkpointable
// pipeline (interleave → repeat → shuffle → batch → prefetch), checkpoints the pipeline and its "model" on the
// configured cadence into the configured store, and resumes exactly where the last committed checkpoint left off.
//
// Exit codes: 0 done (Training:Steps reached, or stopped cleanly by SIGTERM/Ctrl+C after saving);
//             2 invalid configuration; 3 unusable data directory; 4 checkpoint failure; 1 anything else.
using System.Globalization;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Pipeline;
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
    .AddGcsStore();
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

IHostApplicationLifetime lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
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
    InputRestoreMode = InputRestoreMode.AtGlobalStep,
};

using var model = new BatchRecorder(training.BatchLog, training.StepDelayMs);
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
        hooks: [new CheckpointInputPipelineHook(estimator), new StopWhenRequestedHook(lifetime.ApplicationStopping)],
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
    : string.Create(CultureInfo.InvariantCulture, $"Stopped at global step {reached} of {training.Steps} after a stop request; the checkpoint at step {reached} is committed."));
await host.StopAsync();
return 0;
