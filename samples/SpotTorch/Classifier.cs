using System.Security.Cryptography;
using InputPipeline.Checkpointing.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace SpotTorch;

/// <summary>
/// The sample's model: a multi-layer perceptron with dropout (so torch's random generator matters), trained with Adam
/// under a step learning-rate schedule.
/// </summary>
internal static class Classifier
{
    public const int Hidden = 256;
    public const double Dropout = 0.2;
    public const double LearningRate = 1e-3;
    public const int LearningRateStepSize = 500;
    public const double LearningRateDecay = 0.5;

    /// <summary>Builds the module with weights drawn from <paramref name="seed"/>, the same at every start.</summary>
    public static Sequential Build(int seed)
    {
        torch.manual_seed(seed);
        return Sequential(
            ("fc1", Linear(SyntheticData.Features, Hidden)),
            ("relu1", ReLU()),
            ("drop1", Dropout(Dropout)),
            ("fc2", Linear(Hidden, Hidden)),
            ("relu2", ReLU()),
            ("drop2", Dropout(Dropout)),
            ("out", Linear(Hidden, SyntheticData.Classes)));
    }

    public static Adam Optimizer(Module module) => torch.optim.Adam(module.parameters(), LearningRate);

    public static torch.optim.lr_scheduler.LRScheduler Schedule(OptimizerHelper optimizer, int lastEpoch) =>
        torch.optim.lr_scheduler.StepLR(optimizer, LearningRateStepSize, LearningRateDecay, last_epoch: lastEpoch);

    /// <summary>One training step on <paramref name="batch"/>: forward, cross-entropy, backward, Adam; returns the loss.</summary>
    public static float TrainStep(Sequential model, OptimizerHelper optimizer, TensorBatch batch)
    {
        float loss;
        using (torch.NewDisposeScope())
        {
            optimizer.zero_grad();
            torch.Tensor output = functional.cross_entropy(model.forward(batch.Input), batch.Target);
            output.backward();
            loss = output.item<float>();
        }

        // Outside the scope: the optimizer keeps the moments it creates on its first step.
        optimizer.step();
        return loss;
    }

    /// <summary>The lowercase hex SHA-256 of every parameter's bytes, in state-dict order.</summary>
    public static string ParameterHash(Module module)
    {
        var parameters = new HashSet<string>(module.named_parameters().Select(p => p.name), StringComparer.Ordinal);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach ((string name, torch.Tensor tensor) in module.state_dict())
        {
            if (parameters.Contains(name))
            {
                sha.AppendData(tensor.bytes);
            }
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
