using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing;

/// <summary>The data of <see cref="CheckpointManager.Committed"/>: a save that committed.</summary>
public sealed class CheckpointCommittedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="chain">The chain the checkpoint was committed to.</param>
    /// <param name="checkpoint">The committed checkpoint, now the chain's latest.</param>
    /// <exception cref="ArgumentNullException"><paramref name="chain"/> or <paramref name="checkpoint"/> is null.</exception>
    public CheckpointCommittedEventArgs(string chain, CheckpointReference checkpoint)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(checkpoint);
        Chain = chain;
        Checkpoint = checkpoint;
    }

    /// <summary>Gets the chain, for example <c>input</c> or <c>model</c>.</summary>
    public string Chain { get; }

    /// <summary>Gets the committed checkpoint: its step, manifest key and the time it was captured.</summary>
    public CheckpointReference Checkpoint { get; }
}

/// <summary>The data of <see cref="CheckpointManager.SaveFailed"/>: a save that ended without a commit.</summary>
public sealed class CheckpointSaveFailedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="chain">The chain the save was for.</param>
    /// <param name="step">The global step the save was taken at.</param>
    /// <param name="exception">Why it failed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="chain"/> or <paramref name="exception"/> is null.</exception>
    public CheckpointSaveFailedEventArgs(string chain, long step, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(exception);
        Chain = chain;
        Step = step;
        Exception = exception;
    }

    /// <summary>Gets the chain.</summary>
    public string Chain { get; }

    /// <summary>Gets the global step of the save that failed.</summary>
    public long Step { get; }

    /// <summary>
    /// Gets why the save failed: a <see cref="CheckpointStoreException"/> (the store refused a write or is unreachable),
    /// a <see cref="CheckpointOwnershipLostException"/> (another writer took the chain over), or another exception the
    /// save threw. The previous checkpoint stays the latest.
    /// </summary>
    public Exception Exception { get; }
}

/// <summary>The manager's notifications of the outcome of each save, for progress displays and exit decisions.</summary>
public sealed partial class CheckpointManager
{
    /// <summary>
    /// Raised once for each <see cref="SaveAsync"/> that committed, after retention, with the committed checkpoint.
    /// </summary>
    /// <remarks>
    /// Handlers run synchronously on the thread that ran the save (a background thread for a hook that saves in the
    /// background), after the manager has released its lock, so a handler may call the manager; keep them quick. An
    /// exception a handler throws is logged (event 1030) and does not change the outcome of the save or keep other
    /// handlers from running.
    /// </remarks>
    public event EventHandler<CheckpointCommittedEventArgs>? Committed;

    /// <summary>
    /// Raised once for each <see cref="SaveAsync"/> that ended without a commit, before the exception reaches its caller;
    /// a save cancelled by its caller's token is not a failure and raises nothing (as the
    /// <see cref="CheckpointingInstrumentNames.SaveFailures"/> counter counts it).
    /// </summary>
    /// <remarks>Handlers run as those of <see cref="Committed"/> do.</remarks>
    public event EventHandler<CheckpointSaveFailedEventArgs>? SaveFailed;

    private void OnCommitted(CheckpointReference checkpoint)
    {
        if (Committed is { } handlers)
        {
            Raise(handlers, new CheckpointCommittedEventArgs(Chain, checkpoint), nameof(Committed));
        }
    }

    private void OnSaveFailed(long step, Exception exception, CancellationToken cancellationToken)
    {
        if (SaveFailed is { } handlers && !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            Raise(handlers, new CheckpointSaveFailedEventArgs(Chain, step, exception), nameof(SaveFailed));
        }
    }

    private void Raise<TArgs>(EventHandler<TArgs> handlers, TArgs args, string eventName)
    {
        foreach (EventHandler<TArgs> handler in handlers.GetInvocationList().Cast<EventHandler<TArgs>>())
        {
            try
            {
                handler(this, args);
            }
#pragma warning disable CA1031 // A failing handler must not turn a committed save into a failed one, or silence the others.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                EventLog.HandlerFailed(_chain.Logger, eventName, Chain, ex);
            }
        }
    }

    private static partial class EventLog
    {
        [LoggerMessage(1030, LogLevel.Warning, "A handler of the {EventName} event of chain {Chain} threw; the save's outcome stands.")]
        public static partial void HandlerFailed(ILogger logger, string eventName, string chain, Exception exception);
    }
}
