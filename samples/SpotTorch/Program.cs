// SpotTorch: a real TorchSharp training job for spot / preemptible VMs. A multi-layer perceptron with dropout learns a
// seeded synthetic classification task stored as record files, read through a checkpointable pipeline (interleave →
// repeat → shuffle → batch → prefetch → tensors), with Adam under a step learning-rate schedule. The module, the
// optimizer, the schedule and torch's random generator are checkpointed as the model chain beside the input chain, at
// the same steps, into the configured store; a restart resumes at the newest step where both verify, and produces the
// same loss at every step and the same final weights, bit for bit, as a run that was never interrupted. On SIGTERM,
// Ctrl+C or a cloud preemption notice (InputPipelineCheckpointing:Preemption:Aws|Azure|Gce, off by default) it finishes
// the current step, saves both chains there, and exits 0.
//
// Exit codes and console output: JobExit.cs.
using System.Diagnostics;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.Preemption;
using InputPipeline.Checkpointing.TorchSharp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SpotTorch;
using TorchSharp;
using TorchSharp.Modules;

JobOutcome outcome;
try
{
    outcome = await RunAsync(args);
}
catch (Exception ex)
{
    outcome = new JobOutcome(JobExit.Failed, $"Unexpected failure: {ex}");
}

return JobExit.Report(outcome);

static async Task<JobOutcome> RunAsync(string[] args)
{
    HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
    {
        Args = args,
        ContentRootPath = AppContext.BaseDirectory,
    });
    builder.Services.AddInputPipelineCheckpointing(builder.Configuration)
        .AddAzureBlobStore()
        .AddS3Store()
        .AddGcsStore()
        .AddPreemptionHandling() // SIGTERM/Ctrl+C, and the cloud notices enabled under InputPipelineCheckpointing:Preemption
        .AddTorchSharpCheckpointing();
    builder.Services.AddOptions<TrainingOptions>().Bind(builder.Configuration.GetSection(TrainingOptions.SectionName)).ValidateOnStart();
    builder.Services.AddSingleton<IValidateOptions<TrainingOptions>, TrainingOptionsValidator>();

    // Disposed before the outcome is printed, so the console logger has written its last line by then.
    using IHost host = builder.Build();
    try
    {
        await host.StartAsync();
    }
    catch (OptionsValidationException ex)
    {
        return new JobOutcome(JobExit.InvalidConfiguration, $"Invalid configuration: {ex.Message}");
    }

    TrainingOptions training = host.Services.GetRequiredService<IOptions<TrainingOptions>>().Value;
    IReadOnlyList<string> files;
    try
    {
        files = SyntheticData.EnsureGenerated(training.DataDir, training.Seed);
    }
    catch (DataDirectoryException ex)
    {
        return new JobOutcome(JobExit.UnusableData, ex.Message);
    }

    torch.set_num_threads(training.Threads);
    using Sequential model = Classifier.Build(training.Seed);
    using Adam optimizer = Classifier.Optimizer(model);
    var state = new TorchTrainingState(model, optimizer, Classifier.Schedule);
    using var lossLog = new LossLog(training.LossLog);

    // Stops after the step under way once a preemption is requested; the session's end then saves both chains at that
    // step, and (last in the list) acknowledges the notice once they are committed.
    PreemptionHook preemption = host.Services.GetRequiredService<PreemptionHook>();
    long reached;
    long resumed;
    long started;
    try
    {
        await using TorchCheckpointing checkpoints = host.Services.GetRequiredService<TorchCheckpointingFactory>().Create(state);
        started = Stopwatch.GetTimestamp();
        resumed = await checkpoints.ResumeAsync();
        var session = new TrainingSession(resumed);
        await using ICheckpointableIterator<TensorBatch> batches = Dataset.Files(files)
            .Interleave(path => Dataset.Records(path), cycleLength: 4, blockLength: 2)
            .Repeat()
            .Shuffle(1024, (ulong)training.Seed)
            .Batch(64, dropRemainder: true)
            .Prefetch(4)
            .CreateTensorIterator(records => TensorBatch.FromExamples(records, SyntheticData.Features, SyntheticData.ReadExample), "batches");
        session.Iterators.Add("batches", batches);
        reached = await new MonitoredTrainingSession(session, [.. checkpoints.Hooks, preemption]).RunAsync(
            async (context, cancellationToken) =>
            {
                if (!await batches.MoveNextAsync(cancellationToken))
                {
                    return false;
                }

                float loss = Classifier.TrainStep(model, optimizer, batches.Current);
                state.StepScheduler();
                lossLog.Append(context.GlobalStep + 1, loss);
                return true;
            },
            training.Steps,
            CancellationToken.None);
    }
    catch (CheckpointException ex)
    {
        return new JobOutcome(JobExit.CheckpointFailure, $"Checkpoint failure: {ex.Message}");
    }

    TimeSpan trainingTime = Stopwatch.GetElapsedTime(started);
    string parameters = Classifier.ParameterHash(model);
    await host.StopAsync();
    return new JobOutcome(
        JobExit.Done,
        Reached: reached,
        Target: training.Steps,
        StopReason: reached >= training.Steps ? null : preemption.Monitor.Notice?.Reason.ToString(),
        ParameterHash: parameters,
        StepsRun: reached - resumed,
        TrainingTime: trainingTime);
}
