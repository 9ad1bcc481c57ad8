using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InputPipeline.Checkpointing.HealthChecks;

/// <summary>
/// Reports whether the checkpoint store is reachable and the latest committed checkpoint of a chain is recent. It reads
/// only the chain's state file (<c>checkpoint_input</c>): one small read per check, never a listing or a part.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The store is unreachable or refuses the read (<see cref="CheckpointStoreException"/>): the registration's failure status (default <see cref="HealthStatus.Unhealthy"/>).</item>
/// <item>The chain has no checkpoint yet, or its state file is damaged: <see cref="InputPipelineCheckpointingHealthCheckOptions.NoCheckpointStatus"/> (default <see cref="HealthStatus.Degraded"/>).</item>
/// <item>The latest checkpoint is older than <see cref="InputPipelineCheckpointingHealthCheckOptions.MaxAge"/>: <see cref="InputPipelineCheckpointingHealthCheckOptions.StaleStatus"/> (default <see cref="HealthStatus.Degraded"/>).</item>
/// <item>Otherwise <see cref="HealthStatus.Healthy"/>.</item>
/// </list>
/// The result's data holds <c>chain</c>, <c>provider</c>, <c>state_file</c>, <c>max_age_seconds</c> and, when there is a
/// checkpoint, <c>latest_step</c>, <c>latest_created_at</c> (ISO 8601, UTC), <c>age_seconds</c> and <c>retained_checkpoints</c>.
/// </remarks>
public sealed class InputPipelineCheckpointingHealthCheck : IHealthCheck
{
    private readonly IInputStateStore _store;
    private readonly TimeProvider _time;
    private readonly string _chain;
    private readonly string _stateFileKey;
    private readonly TimeSpan _maxAge;
    private readonly HealthStatus _staleStatus;
    private readonly HealthStatus _noCheckpointStatus;

    /// <summary>Creates the health check.</summary>
    /// <param name="store">The store the chain lives in.</param>
    /// <param name="options">The chain and the age limit; read once, so later changes have no effect.</param>
    /// <param name="timeProvider">The clock the age is measured with; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is out of range.</exception>
    public InputPipelineCheckpointingHealthCheck(IInputStateStore store, InputPipelineCheckpointingHealthCheckOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _store = store;
        _time = timeProvider ?? TimeProvider.System;
        _chain = options.Chain ?? CheckpointKeyLayout.InputChain;
        _stateFileKey = options.StateFileKey ?? CheckpointKeyLayout.StateFileKeyOf(_chain);
        _maxAge = options.MaxAge;
        _staleStatus = options.StaleStatus;
        _noCheckpointStatus = options.NoCheckpointStatus;
    }

    /// <summary>Gets the chain watched.</summary>
    public string Chain => _chain;

    /// <summary>Gets the key of the state file read.</summary>
    public string StateFileKey => _stateFileKey;

    /// <summary>Reads the chain's state file and reports the store's reachability and the latest checkpoint's age.</summary>
    /// <param name="context">The health check context; its registration's failure status is reported for an unreachable store.</param>
    /// <param name="cancellationToken">Cancels the read (the health check service's timeout).</param>
    /// <returns>The result, with the data described on the class.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="context"/> is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        HealthStatus failureStatus = context.Registration?.FailureStatus ?? HealthStatus.Unhealthy;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["chain"] = _chain,
            ["provider"] = _store.ProviderName,
            ["state_file"] = _stateFileKey,
            ["max_age_seconds"] = _maxAge.TotalSeconds,
        };

        byte[]? bytes;
        try
        {
            bytes = await ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointStoreException ex)
        {
            return new HealthCheckResult(failureStatus, $"The {_store.ProviderName} checkpoint store is unreachable: reading {_stateFileKey} failed: {ex.Message}", ex, data);
        }

        if (bytes is null)
        {
            return new HealthCheckResult(_noCheckpointStatus, $"The {_store.ProviderName} store is reachable; chain {_chain} has no checkpoint yet ({_stateFileKey} does not exist).", data: data);
        }

        CheckpointStateFile state;
        try
        {
            state = CheckpointStateFile.Parse(bytes, _stateFileKey);
        }
        catch (CheckpointCorruptedException ex)
        {
            return new HealthCheckResult(_noCheckpointStatus, $"The {_store.ProviderName} store is reachable, but the state file {_stateFileKey} of chain {_chain} is damaged: {ex.Message}", ex, data);
        }

        data["retained_checkpoints"] = state.Checkpoints.Count;
        if (state.Latest is not { } latest)
        {
            return new HealthCheckResult(_noCheckpointStatus, $"The {_store.ProviderName} store is reachable; chain {_chain} retains no checkpoint.", data: data);
        }

        TimeSpan age = _time.GetUtcNow() - latest.CreatedAt;
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero;
        }

        data["latest_step"] = latest.Step;
        data["latest_created_at"] = latest.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        data["age_seconds"] = age.TotalSeconds;
        string summary = string.Create(CultureInfo.InvariantCulture, $"the latest checkpoint of chain {_chain} is at step {latest.Step}, {age.TotalSeconds:0.#} s old");
        return age > _maxAge
            ? new HealthCheckResult(_staleStatus, string.Create(CultureInfo.InvariantCulture, $"Stale: {summary}, more than the {_maxAge.TotalSeconds:0.#} s allowed."), data: data)
            : HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Healthy: {summary}."), data);
    }

    private async Task<byte[]?> ReadStateFileAsync(CancellationToken cancellationToken)
    {
        StoreReadResult? read = await _store.ReadAsync(_stateFileKey, 0, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return null;
        }

        await using (read.ConfigureAwait(false))
        {
            if (read.Info.Length > CheckpointStateFile.MaxLength)
            {
                return [];
            }

            using var buffer = new MemoryStream((int)Math.Max(0, read.RemainingLength));
            try
            {
                await read.Content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new CheckpointStoreException(_store.ProviderName, _stateFileKey, $"reading the state file failed: {ex.Message}", ex);
            }

            return buffer.ToArray();
        }
    }
}
