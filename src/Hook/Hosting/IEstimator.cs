using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Hosting;

/// <summary>A model an <see cref="Estimator{TBatch}"/> trains and evaluates. Its state is checkpointed as <c>model.ckpt</c>.</summary>
/// <typeparam name="TBatch">The batch type its input pipeline yields.</typeparam>
public interface IEstimatorModel<TBatch> : ICheckpointable
{
    /// <summary>Trains on one batch.</summary>
    /// <param name="batch">The batch.</param>
    /// <param name="globalStep">The global step this training step becomes (1 for the first).</param>
    /// <param name="cancellationToken">Cancels the step.</param>
    /// <returns>A task.</returns>
    ValueTask TrainStepAsync(TBatch batch, long globalStep, CancellationToken cancellationToken = default);

    /// <summary>Evaluates on batches and returns named metrics.</summary>
    /// <param name="batches">The evaluation batches.</param>
    /// <param name="cancellationToken">Cancels the evaluation.</param>
    /// <returns>The metrics, for example <c>loss</c>.</returns>
    ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<TBatch> batches, CancellationToken cancellationToken = default);
}

/// <summary>What an input hook needs from an estimator: its run configuration, store and logging.</summary>
public interface IEstimator
{
    /// <summary>Gets the run configuration.</summary>
    RunConfig Config { get; }

    /// <summary>Gets the store checkpoints go to (the model directory).</summary>
    IInputStateStore Store { get; }

    /// <summary>Gets the logger factory.</summary>
    ILoggerFactory LoggerFactory { get; }

    /// <summary>Gets the clock.</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>
    /// Gets the factory of the <see cref="CheckpointingTelemetry.MeterName"/> meter, or <see langword="null"/> (the
    /// default implementation) for the process-wide meter.
    /// </summary>
    IMeterFactory? MeterFactory => null;

    /// <summary>
    /// Gets the manager of the input chain the estimator claims when training starts, for an input hook to save
    /// through; <see langword="null"/> (the default implementation) lets the hook create its own.
    /// </summary>
    CheckpointManager? InputCheckpoints => null;
}

/// <summary>The result of <see cref="Estimator{TBatch}.EvaluateAsync"/>.</summary>
/// <param name="GlobalStep">The global step of the model evaluated.</param>
/// <param name="Steps">The number of batches evaluated.</param>
/// <param name="Metrics">The model's metrics.</param>
public sealed record EvaluationResult(long GlobalStep, long Steps, IReadOnlyDictionary<string, double> Metrics);
