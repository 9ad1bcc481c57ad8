using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.TorchSharp;

/// <summary>
/// Creates <see cref="TorchCheckpointing"/> instances from the application's registered store and
/// <c>InputPipelineCheckpointing</c> options (cadence, retention, worker identity, background saving, failure policy).
/// Registered by <c>AddTorchSharpCheckpointing()</c>; one <see cref="TorchCheckpointing"/> per training run.
/// </summary>
public sealed class TorchCheckpointingFactory
{
    private readonly IInputStateStore _store;
    private readonly IOptions<InputPipelineCheckpointingOptions> _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider? _timeProvider;
    private readonly IMeterFactory? _meterFactory;

    /// <summary>Creates the factory.</summary>
    /// <param name="store">The store both chains go to.</param>
    /// <param name="options">The checkpointing options.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    /// <param name="meterFactory">Creates the meter; <see langword="null"/> (the default) uses a process-wide meter.</param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="options"/> is null.</exception>
    public TorchCheckpointingFactory(IInputStateStore store, IOptions<InputPipelineCheckpointingOptions> options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _options = options;
        _loggerFactory = loggerFactory;
        _timeProvider = timeProvider;
        _meterFactory = meterFactory;
    }

    /// <summary>Creates the checkpointing of <paramref name="state"/> and of the session's iterators.</summary>
    /// <param name="state">The training state.</param>
    /// <returns>A new <see cref="TorchCheckpointing"/>; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">The options are invalid (start the host first: it validates them with a message naming the key).</exception>
    public TorchCheckpointing Create(TorchTrainingState state) =>
        new(_store, _options.Value.ToHookOptions(), state, _loggerFactory, _timeProvider, _meterFactory);
}
