// The reference's own example, in .NET: train for N steps with the input-pipeline hook, then evaluate without it, in a
// loop until a stop condition. Kill it at any time and run it again: it resumes the model and the data stream at the
// same step.
using System.Globalization;
using EstimatorLoop;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// appsettings.json is read from the build output, so the sample runs the same from any directory; relative store
// paths (Local:Path) still resolve against the current directory.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Services.AddInputPipelineCheckpointing(builder.Configuration);
using IHost host = builder.Build();
try
{
    await host.StartAsync(); // validates the InputPipelineCheckpointing options
}
catch (OptionsValidationException ex)
{
    Console.Error.WriteLine($"Invalid configuration: {ex.Message}");
    return 2;
}

IConfiguration training = builder.Configuration.GetSection("Training");
int stepsPerEval = training.GetValue("StepsPerEval", 100);
int maxRounds = training.GetValue("MaxRounds", 8);
double targetLoss = training.GetValue("TargetLoss", 0.05);
int seed = training.GetValue("Seed", 42);
int batchSize = training.GetValue("BatchSize", 32);

InputPipelineCheckpointingOptions options = host.Services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value;
var config = new RunConfig
{
    Store = host.Services.GetRequiredService<IInputStateStore>(),
    SaveCheckpointsSteps = options.SaveSteps,
    SaveCheckpointsSecs = options.SaveSecs,
    KeepCheckpointMax = options.KeepMax,
};

var model = new LinearModel(learningRate: 0.1);
using var estimator = new Estimator<Batch>(model, config, host.Services.GetRequiredService<ILoggerFactory>());
for (int round = 1; round <= maxRounds; round++)
{
    // A fresh input pipeline each round, as input_fn builds one per train() call; the hook restores its position.
    long step = await estimator.TrainAsync(
        () => new SyntheticRegressionData(seed, batchSize),
        hooks: [new CheckpointInputPipelineHook(estimator)],
        steps: stepsPerEval);

    // No hook here: the evaluation pipeline is never restored from the training pipeline's checkpoint.
    EvaluationResult result = await estimator.EvaluateAsync(() => new SyntheticRegressionData(seed + 1, batchSize), steps: 10);
    double loss = result.Metrics["loss"];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: global step {step}, eval loss {loss:F5}, weight {result.Metrics["weight"]:F4}, bias {result.Metrics["bias"]:F4}"));
    if (loss < targetLoss)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"eval loss below {targetLoss}: stopping."));
        break;
    }
}

await host.StopAsync();
return 0;
