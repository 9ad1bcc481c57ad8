using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing;

public sealed partial class CheckpointInputPipelineHook
{
    private static partial class Log
    {
        [LoggerMessage(1100, LogLevel.Information, "Restored the input pipeline ({IteratorCount} iterators) of chain {Chain} from step {Step}.")]
        public static partial void Restored(ILogger logger, string chain, long step, int iteratorCount);

        [LoggerMessage(1101, LogLevel.Information, "No input checkpoint in chain {Chain}; saving an initial one at step {Step}.")]
        public static partial void SavingInitial(ILogger logger, string chain, long step);

        [LoggerMessage(1102, LogLevel.Warning, "No iterators are registered with the training session; the input checkpoints of chain {Chain} will be empty.")]
        public static partial void NoIterators(ILogger logger, string chain);

        [LoggerMessage(1103, LogLevel.Error, "Saving the input checkpoint of chain {Chain} at step {Step} failed ({FailedSaves} failures so far); the previous checkpoint stays the latest and the next trigger saves again.")]
        public static partial void SaveFailed(ILogger logger, string chain, long step, long failedSaves, Exception exception);

        [LoggerMessage(1105, LogLevel.Information, "Restoring the input pipeline of chain {Chain} at exactly step {Step}, the step the session starts at.")]
        public static partial void RestoringAtStep(ILogger logger, string chain, long step);
    }
}
