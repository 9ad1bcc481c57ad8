using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing;

public sealed partial class CheckpointManager
{
    internal static partial class Log
    {
        [LoggerMessage(1000, LogLevel.Debug, "Committed checkpoint {ManifestKey} of chain {Chain} at step {Step}: {PartCount} parts, {Bytes} bytes.")]
        public static partial void Committed(ILogger logger, string chain, long step, string manifestKey, int partCount, long bytes);

        [LoggerMessage(1001, LogLevel.Warning, "The state file {StateFileKey} of chain {Chain} is missing or damaged; rebuilding the list of checkpoints from the manifests in the store.")]
        public static partial void RebuildingView(ILogger logger, string chain, string stateFileKey, Exception? exception);

        [LoggerMessage(1002, LogLevel.Warning, "Skipping damaged manifest {ManifestKey} of chain {Chain} while rebuilding the list of checkpoints.")]
        public static partial void SkippingDamagedManifest(ILogger logger, string chain, string manifestKey, Exception exception);

        [LoggerMessage(1003, LogLevel.Warning, "Checkpoint {ManifestKey} of chain {Chain} at step {Step} cannot be restored; falling back to the previous retained checkpoint.")]
        public static partial void FallingBack(ILogger logger, string chain, long step, string manifestKey, Exception exception);

        [LoggerMessage(1004, LogLevel.Information, "Restored chain {Chain} from checkpoint {ManifestKey} at step {Step}.")]
        public static partial void Restored(ILogger logger, string chain, long step, string manifestKey);

        [LoggerMessage(1005, LogLevel.Warning, "Could not delete {Key} of chain {Chain} while applying retention; orphan collection will retry.")]
        public static partial void RetentionDeleteFailed(ILogger logger, string chain, string key, Exception exception);

        [LoggerMessage(1006, LogLevel.Information, "Collected {Count} orphaned objects of chain {Chain}.")]
        public static partial void OrphansCollected(ILogger logger, string chain, int count);

        [LoggerMessage(1007, LogLevel.Warning, "Orphan collection of chain {Chain} failed; it will be retried.")]
        public static partial void OrphanCollectionFailed(ILogger logger, string chain, Exception exception);

        [LoggerMessage(1008, LogLevel.Error, "Chain {Chain}: ownership lost; {StateFileKey} now names owner epoch {OwnerEpoch} ({OwnerId}), this writer's was {OwnEpoch}. This writer stops saving.")]
        public static partial void OwnershipLost(ILogger logger, string chain, string stateFileKey, long ownerEpoch, string ownerId, long ownEpoch);

        [LoggerMessage(1009, LogLevel.Warning, "Chain {Chain}: the commit of {ManifestKey} failed before it was confirmed; the previous checkpoint stays the latest.")]
        public static partial void CommitFailed(ILogger logger, string chain, string manifestKey, Exception exception);

        [LoggerMessage(1010, LogLevel.Information, "Chain {Chain}: a commit whose response was lost turned out to have succeeded; resuming with it.")]
        public static partial void CommitConfirmed(ILogger logger, string chain);

        [LoggerMessage(1011, LogLevel.Debug, "Saving a checkpoint of chain {Chain} at step {Step}: {PartCount} parts.")]
        public static partial void SaveStarted(ILogger logger, string chain, long step, int partCount);

        [LoggerMessage(1012, LogLevel.Debug, "Saved checkpoint {ManifestKey} of chain {Chain} at step {Step} in {DurationSeconds} s ({Bytes} bytes of parts).")]
        public static partial void SaveCompleted(ILogger logger, string chain, long step, string manifestKey, double durationSeconds, long bytes);

        [LoggerMessage(1013, LogLevel.Debug, "The save of chain {Chain} at step {Step} stopped after {DurationSeconds} s without a commit; the previous checkpoint stays the latest.")]
        public static partial void SaveAbandoned(ILogger logger, string chain, long step, double durationSeconds, Exception exception);

        [LoggerMessage(1014, LogLevel.Debug, "Restoring chain {Chain} ({Target}).")]
        public static partial void RestoreStarted(ILogger logger, string chain, string target);

        [LoggerMessage(1015, LogLevel.Debug, "Restored chain {Chain} at step {Step} in {DurationSeconds} s ({Bytes} bytes of parts read, {Fallbacks} fallbacks).")]
        public static partial void RestoreCompleted(ILogger logger, string chain, long step, double durationSeconds, long bytes, int fallbacks);

        [LoggerMessage(1016, LogLevel.Warning, "Restoring chain {Chain} ({Target}) failed after {DurationSeconds} s.")]
        public static partial void RestoreFailed(ILogger logger, string chain, string target, double durationSeconds, Exception exception);

        [LoggerMessage(1017, LogLevel.Debug, "Chain {Chain} has no checkpoint to restore (state file {StateFileKey}).")]
        public static partial void NothingToRestore(ILogger logger, string chain, string stateFileKey);

        [LoggerMessage(1019, LogLevel.Information, "Claimed chain {Chain} ({StateFileKey}) at owner epoch {OwnerEpoch}, taking it over from {PreviousOwner}: {Count} retained checkpoints, the latest at step {LatestStep}.")]
        public static partial void Claimed(ILogger logger, string chain, string stateFileKey, long ownerEpoch, string previousOwner, int count, long latestStep);

        [LoggerMessage(1020, LogLevel.Information, "Chain {Chain}: {StateFileKey} was replaced by {WriterId} without a change of owner (epoch {OwnerEpoch}), for example by ckpt prune; re-applying this commit on top of it.")]
        public static partial void Reapplying(ILogger logger, string chain, string stateFileKey, string writerId, long ownerEpoch);

        [LoggerMessage(1018, LogLevel.Debug, "Chain {Chain} has neither a state file {StateFileKey} nor manifests in the store: a new chain.")]
        public static partial void NewChain(ILogger logger, string chain, string stateFileKey);
    }
}
