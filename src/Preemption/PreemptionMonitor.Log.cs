using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption;

public sealed partial class PreemptionMonitor
{
    private static partial class Log
    {
        [LoggerMessage(3000, LogLevel.Debug, "Preemption requested: {Reason} ({Detail}); deadline {Deadline}.")]
        public static partial void Requested(ILogger logger, PreemptionReason reason, string detail, DateTimeOffset? deadline);

        [LoggerMessage(3001, LogLevel.Debug, "A second preemption request ({Reason}) is ignored: one was already made ({FirstReason}).")]
        public static partial void RequestIgnored(ILogger logger, PreemptionReason reason, PreemptionReason firstReason);

        [LoggerMessage(3002, LogLevel.Error, "A PreemptionRequested handler or PreemptionToken callback threw; the preemption request stands.")]
        public static partial void CallbackFailed(ILogger logger, Exception exception);

        [LoggerMessage(3003, LogLevel.Debug, "The job has saved after the preemption ({Reason}); running {Count} notice acknowledgements.")]
        public static partial void Acknowledging(ILogger logger, PreemptionReason reason, int count);

        [LoggerMessage(3004, LogLevel.Warning, "Acknowledging a preemption notice failed; the platform proceeds at its deadline instead.")]
        public static partial void AcknowledgementFailed(ILogger logger, Exception exception);
    }
}
