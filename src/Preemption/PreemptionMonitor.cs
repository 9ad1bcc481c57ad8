using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.Preemption;

/// <summary>
/// The one place that knows whether the job is being preempted. Signals and cloud notices call
/// <see cref="RequestPreemption(PreemptionReason, string?, DateTimeOffset?)"/>; the training loop (through
/// <see cref="PreemptionHook"/>) watches <see cref="IsPreemptionRequested"/>, <see cref="PreemptionToken"/> or
/// <see cref="PreemptionRequested"/>, saves at the next step boundary and stops; once the final checkpoint is committed,
/// <see cref="AcknowledgeAsync(CancellationToken)"/> tells the notice sources that need to know (Azure Scheduled Events
/// is acknowledged then).
/// </summary>
/// <remarks>
/// A request is a one-way latch: the first request wins (its <see cref="Notice"/> stays), later ones are ignored, and
/// nothing resets it — a preempted process is expected to save, stop and exit. Register it as a singleton (as
/// <c>AddPreemptionHandling()</c> does). Thread-safe.
/// </remarks>
public sealed partial class PreemptionMonitor : IDisposable
{
    private readonly object _gate = new();
    private readonly CancellationTokenSource _preempted = new();
    private readonly TaskCompletionSource<PreemptionNotice> _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Func<CancellationToken, Task>> _acknowledgements = [];
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private PreemptionNotice? _notice;
    private Task? _acknowledged;

    /// <summary>Creates a monitor with no preemption requested.</summary>
    /// <param name="logger">The logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">The clock for <see cref="PreemptionNotice.ReceivedAt"/>; <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.</param>
    public PreemptionMonitor(ILogger<PreemptionMonitor>? logger = null, TimeProvider? timeProvider = null)
    {
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Raised once, on the thread of the first <see cref="RequestPreemption(PreemptionReason, string?, DateTimeOffset?)"/>.
    /// A handler added after the request is not called: check <see cref="IsPreemptionRequested"/> or use
    /// <see cref="PreemptionToken"/> to not miss it. An exception thrown by a handler is logged and does not reach the
    /// requester or the other handlers.
    /// </summary>
    public event EventHandler<PreemptionRequestedEventArgs>? PreemptionRequested;

    /// <summary>Gets whether a preemption has been requested.</summary>
    public bool IsPreemptionRequested => Volatile.Read(ref _notice) is not null;

    /// <summary>Gets the first preemption request, or <see langword="null"/> when none was made.</summary>
    public PreemptionNotice? Notice => Volatile.Read(ref _notice);

    /// <summary>Gets a token that is cancelled when a preemption is requested (at once if one already was).</summary>
    /// <exception cref="ObjectDisposedException">The monitor is disposed.</exception>
    public CancellationToken PreemptionToken => _preempted.Token;

    /// <summary>Gets whether <see cref="AcknowledgeAsync(CancellationToken)"/> ran after a preemption request.</summary>
    public bool IsAcknowledged
    {
        get
        {
            lock (_gate)
            {
                return _acknowledged is not null;
            }
        }
    }

    /// <summary>Requests a preemption: the job should save at the next step boundary and stop.</summary>
    /// <param name="reason">Which signal or notice asks for it.</param>
    /// <param name="detail">What the source said, for logs; <see langword="null"/> (the default) for the reason's name alone.</param>
    /// <param name="deadline">When the VM goes away, if the source said; <see langword="null"/> (the default) when unknown.</param>
    /// <returns><see langword="true"/> for the first request; <see langword="false"/> when one was already made (this one is ignored).</returns>
    public bool RequestPreemption(PreemptionReason reason, string? detail = null, DateTimeOffset? deadline = null)
    {
        var notice = new PreemptionNotice(reason, string.IsNullOrEmpty(detail) ? reason.ToString() : detail, _time.GetUtcNow(), deadline);
        lock (_gate)
        {
            if (_notice is not null)
            {
                Log.RequestIgnored(_logger, reason, _notice.Reason);
                return false;
            }

            Volatile.Write(ref _notice, notice);
        }

        Log.Requested(_logger, notice.Reason, notice.Detail, notice.Deadline);
        _requested.TrySetResult(notice);
        try
        {
            _preempted.Cancel();
        }
        catch (AggregateException ex)
        {
            Log.CallbackFailed(_logger, ex);
        }

        if (PreemptionRequested is { } handlers)
        {
            var args = new PreemptionRequestedEventArgs(notice);
            foreach (EventHandler<PreemptionRequestedEventArgs> handler in handlers.GetInvocationList().Cast<EventHandler<PreemptionRequestedEventArgs>>())
            {
                try
                {
                    handler(this, args);
                }
#pragma warning disable CA1031 // A failing handler must not keep the others, or the requester, from going on.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Log.CallbackFailed(_logger, ex);
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Requests a preemption with <paramref name="reason"/> when <paramref name="trigger"/> is cancelled (at once if it
    /// already is), for example when <c>IHostApplicationLifetime.ApplicationStopping</c> is.
    /// </summary>
    /// <param name="reason">The reason to request it with.</param>
    /// <param name="detail">The detail to request it with; <see langword="null"/> for the reason's name.</param>
    /// <param name="trigger">The token whose cancellation requests the preemption.</param>
    /// <returns>The registration; dispose it to stop watching <paramref name="trigger"/>.</returns>
    public CancellationTokenRegistration RegisterTrigger(PreemptionReason reason, string? detail, CancellationToken trigger) =>
        trigger.Register(() => RequestPreemption(reason, detail));

    /// <summary>Waits until a preemption is requested.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The first preemption request.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public Task<PreemptionNotice> WaitForPreemptionAsync(CancellationToken cancellationToken = default) =>
        _requested.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Registers work a notice source must do once the application has saved after the preemption, for example
    /// acknowledging an Azure Scheduled Event so that the platform goes ahead without waiting for its deadline. It runs
    /// during <see cref="AcknowledgeAsync(CancellationToken)"/>, or at once when that already ran.
    /// </summary>
    /// <param name="acknowledge">The work; it gets the token passed to <see cref="AcknowledgeAsync(CancellationToken)"/> (or none when run at once).</param>
    /// <returns>The work's task when it runs at once; otherwise a completed task. It never faults: a failure is logged.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="acknowledge"/> is null.</exception>
    public Task RegisterAcknowledgementAsync(Func<CancellationToken, Task> acknowledge)
    {
        ArgumentNullException.ThrowIfNull(acknowledge);
        lock (_gate)
        {
            if (_acknowledged is null)
            {
                _acknowledgements.Add(acknowledge);
                return Task.CompletedTask;
            }
        }

        return RunAcknowledgementAsync(acknowledge, CancellationToken.None);
    }

    /// <summary>
    /// Tells the notice sources that the job has saved after the preemption: the final checkpoint is committed and
    /// training has stopped. Runs every registered acknowledgement (see
    /// <see cref="RegisterAcknowledgementAsync(Func{CancellationToken, Task})"/>) once. Does nothing when no preemption
    /// was requested. <see cref="PreemptionHook"/> calls it from its <c>EndAsync</c>; call it yourself when you do not use the hook.
    /// </summary>
    /// <param name="cancellationToken">Cancels the acknowledgements.</param>
    /// <returns>A task that completes when every acknowledgement has run (a second call returns the first call's task). It never faults: a failure is logged.</returns>
    public Task AcknowledgeAsync(CancellationToken cancellationToken = default)
    {
        Func<CancellationToken, Task>[] pending;
        TaskCompletionSource done;
        lock (_gate)
        {
            if (_notice is null)
            {
                return Task.CompletedTask;
            }

            if (_acknowledged is not null)
            {
                return _acknowledged;
            }

            pending = [.. _acknowledgements];
            _acknowledgements.Clear();
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _acknowledged = done.Task;
        }

        Log.Acknowledging(_logger, _notice.Reason, pending.Length);
        _ = CompleteAsync();
        return done.Task;

        async Task CompleteAsync()
        {
            await Task.WhenAll(pending.Select(a => RunAcknowledgementAsync(a, cancellationToken))).ConfigureAwait(false);
            done.SetResult();
        }
    }

    /// <summary>Releases the <see cref="PreemptionToken"/>'s source.</summary>
    public void Dispose() => _preempted.Dispose();

    private async Task RunAcknowledgementAsync(Func<CancellationToken, Task> acknowledge, CancellationToken cancellationToken)
    {
        try
        {
            await acknowledge(cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The save succeeded; a failed acknowledgement only means the platform waits for its deadline.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.AcknowledgementFailed(_logger, ex);
        }
    }
}
