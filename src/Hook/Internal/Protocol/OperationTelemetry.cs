using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>Measures, traces and logs a manager's saves and restores: their duration, outcome and failure, once, around the protocol code.</summary>
internal sealed class OperationTelemetry(ChainContext chain, ChainView view)
{
    public async Task<CheckpointReference> ObserveSaveAsync(long step, int partCount, Func<Task<CheckpointReference>> save, CancellationToken cancellationToken)
    {
        using Activity? activity = CheckpointingMetrics.StartActivity(CheckpointingActivityNames.Save, chain.Chain, chain.Provider);
        activity?.SetTag(CheckpointingTagNames.Step, step);
        long started = chain.Time.GetTimestamp();
        CheckpointManager.Log.SaveStarted(chain.Logger, chain.Chain, step, partCount);
        try
        {
            CheckpointReference reference = await save().ConfigureAwait(false);
            TimeSpan elapsed = chain.Time.GetElapsedTime(started);
            chain.Metrics.RecordSave(elapsed, chain.Chain, chain.Provider, failure: null, cancelled: false);
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag(CheckpointingTagNames.ManifestKey, reference.ManifestKey);
                activity.SetTag(CheckpointingTagNames.Outcome, CheckpointingTagValues.Success);
            }

            if (chain.Logger.IsEnabled(LogLevel.Debug))
            {
                long bytes = view.TryGetKnown(reference.ManifestKey, out CheckpointManifest? manifest) ? manifest.TotalLength : 0;
                CheckpointManager.Log.SaveCompleted(chain.Logger, chain.Chain, step, reference.ManifestKey, elapsed.TotalSeconds, bytes);
            }

            return reference;
        }
        catch (Exception ex)
        {
            TimeSpan elapsed = chain.Time.GetElapsedTime(started);
            bool cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            chain.Metrics.RecordSave(elapsed, chain.Chain, chain.Provider, ex, cancelled);
            CheckpointingMetrics.SetFailure(activity, ex, cancelled);
            CheckpointManager.Log.SaveAbandoned(chain.Logger, chain.Chain, step, elapsed.TotalSeconds, ex);
            throw;
        }
    }

    public async Task<CheckpointReference?> ObserveRestoreAsync(long? requestedStep, Func<RestoreStats, Task<CheckpointReference?>> restore, CancellationToken cancellationToken)
    {
        using Activity? activity = CheckpointingMetrics.StartActivity(CheckpointingActivityNames.Restore, chain.Chain, chain.Provider);
        if (requestedStep is { } requested)
        {
            activity?.SetTag(CheckpointingTagNames.RequestedStep, requested);
        }

        string target = requestedStep is { } at ? string.Create(CultureInfo.InvariantCulture, $"step {at}") : "latest";
        CheckpointManager.Log.RestoreStarted(chain.Logger, chain.Chain, target);
        var stats = new RestoreStats { Activity = activity };
        long started = chain.Time.GetTimestamp();
        try
        {
            CheckpointReference? restored = await restore(stats).ConfigureAwait(false);
            TimeSpan elapsed = chain.Time.GetElapsedTime(started);
            string outcome = restored is null ? CheckpointingTagValues.Empty : CheckpointingTagValues.Success;
            chain.Metrics.RecordRestore(elapsed, chain.Chain, chain.Provider, outcome, failure: null);
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag(CheckpointingTagNames.Outcome, outcome);
                activity.SetTag(CheckpointingTagNames.Fallbacks, stats.Fallbacks);
                if (restored is not null)
                {
                    activity.SetTag(CheckpointingTagNames.Step, restored.Step);
                    activity.SetTag(CheckpointingTagNames.ManifestKey, restored.ManifestKey);
                }
            }

            if (restored is null)
            {
                CheckpointManager.Log.NothingToRestore(chain.Logger, chain.Chain, chain.StateFileKey);
            }
            else
            {
                CheckpointManager.Log.RestoreCompleted(chain.Logger, chain.Chain, restored.Step, elapsed.TotalSeconds, stats.Bytes, stats.Fallbacks);
            }

            return restored;
        }
        catch (Exception ex)
        {
            TimeSpan elapsed = chain.Time.GetElapsedTime(started);
            bool cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            chain.Metrics.RecordRestore(elapsed, chain.Chain, chain.Provider, cancelled ? CheckpointingTagValues.Cancelled : CheckpointingTagValues.Failure, ex);
            activity?.SetTag(CheckpointingTagNames.Fallbacks, stats.Fallbacks);
            CheckpointingMetrics.SetFailure(activity, ex, cancelled);
            if (!cancelled)
            {
                CheckpointManager.Log.RestoreFailed(chain.Logger, chain.Chain, target, elapsed.TotalSeconds, ex);
            }

            throw;
        }
    }
}
