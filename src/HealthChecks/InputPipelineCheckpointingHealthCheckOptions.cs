using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.HealthChecks;

/// <summary>Options of <see cref="InputPipelineCheckpointingHealthCheck"/>: which chain it watches and how old its latest checkpoint may be.</summary>
public sealed class InputPipelineCheckpointingHealthCheckOptions
{
    /// <summary>The name the health check is registered under when none is given: <c>input-pipeline-checkpointing</c>.</summary>
    public const string DefaultName = "input-pipeline-checkpointing";

    /// <summary>The default <see cref="MaxAge"/>: one hour.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets the chain to watch, for example <c>input</c> or <c>input_worker_1</c>. Default <see langword="null"/>:
    /// with dependency injection, the chain the registered hook writes (from <c>InputPipelineCheckpointing</c>'s
    /// NumWorkerReplicas, TaskType and TaskId); otherwise <see cref="CheckpointManagerOptions.DefaultChain"/> (<c>input</c>).
    /// </summary>
    public string? Chain { get; set; }

    /// <summary>
    /// Gets or sets the key of the chain's state file. Default <see langword="null"/>: <c>checkpoint_</c> + the chain
    /// (<c>checkpoint_input</c>), as the checkpoint manager names it.
    /// </summary>
    public string? StateFileKey { get; set; }

    /// <summary>
    /// Gets or sets how old the latest committed checkpoint may be before the check reports <see cref="StaleStatus"/>;
    /// more than zero. Set it to a few save intervals. Default <see cref="DefaultMaxAge"/> (one hour).
    /// </summary>
    public TimeSpan MaxAge { get; set; } = DefaultMaxAge;

    /// <summary>Gets or sets the status reported when the latest checkpoint is older than <see cref="MaxAge"/>. Default <see cref="HealthStatus.Degraded"/>.</summary>
    public HealthStatus StaleStatus { get; set; } = HealthStatus.Degraded;

    /// <summary>
    /// Gets or sets the status reported when the store is reachable but the chain has no checkpoint yet (a job that has
    /// not reached its first step), or its state file is damaged (the next commit repairs it). Default
    /// <see cref="HealthStatus.Degraded"/>.
    /// </summary>
    public HealthStatus NoCheckpointStatus { get; set; } = HealthStatus.Degraded;

    /// <summary>Checks the options.</summary>
    /// <exception cref="CheckpointOptionsException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Chain is not null && !StoreKey.IsValidName(Chain))
        {
            throw new CheckpointOptionsException(nameof(Chain), $"\"{Chain}\" is not a valid chain name.");
        }

        if (StateFileKey is not null && !StoreKey.IsValid(StateFileKey))
        {
            throw new CheckpointOptionsException(nameof(StateFileKey), $"\"{StateFileKey}\" is not a valid store key.");
        }

        if (MaxAge <= TimeSpan.Zero)
        {
            throw new CheckpointOptionsException(nameof(MaxAge), $"must be more than zero (was {MaxAge}).");
        }
    }
}

/// <summary>Validates <see cref="InputPipelineCheckpointingHealthCheckOptions"/> on start; each failure names the option.</summary>
public sealed class InputPipelineCheckpointingHealthCheckOptionsValidator : IValidateOptions<InputPipelineCheckpointingHealthCheckOptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, InputPipelineCheckpointingHealthCheckOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (CheckpointOptionsException ex)
        {
            return ValidateOptionsResult.Fail($"Health check \"{name}\": {ex.Message}");
        }
    }
}
