using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Samples.Internal;

/// <summary>Turns what a job throws into its exit code and one line of standard error.</summary>
internal static class JobFailures
{
    /// <summary>Describes <paramref name="exception"/>: <c>Expected</c> is false only for a bug, whose stack is printed.</summary>
    public static (int Code, string Line, bool Expected) Describe(Exception exception) => exception switch
    {
        JobFailureException job => (job.ExitCode, OneLine(job.Message), true),
        OptionsValidationException options => (JobExitCodes.InvalidConfiguration, "Invalid configuration: " + OneLine(options.Message), true),
        CheckpointOptionsException options => (JobExitCodes.InvalidConfiguration, "Invalid configuration: " + OneLine(options.Message), true),
        InvalidOperationException binding when IsConfigurationValue(binding) =>
            (JobExitCodes.InvalidConfiguration, "Invalid configuration: " + OneLine(binding.Message), true),
        CheckpointOwnershipLostException lost => (
            JobExitCodes.CheckpointFailure,
            $"Ownership lost: {Sentence(lost.Message)} Another copy of this job has taken over the chain \"{lost.Chain}\": this copy stops, and the other carries on. Restart this one only once that copy is gone.",
            true),
        CheckpointStoreException store => (
            JobExitCodes.CheckpointFailure,
            $"The {store.ProviderName} store cannot be used: {Sentence(store.Message)} Check the InputPipelineCheckpointing:{store.ProviderName} settings, the credentials and the network, then restart: the job resumes from its last committed checkpoint.",
            true),
        CheckpointCorruptedException => (
            JobExitCodes.CheckpointFailure,
            $"Checkpoint failure: {Sentence(exception.Message)} `ckpt verify <store> --all` (src/Cli) lists every damaged object.",
            true),
        CheckpointNotFoundException or CheckpointMismatchException => (
            JobExitCodes.CheckpointFailure,
            $"Checkpoint failure: {Sentence(exception.Message)} `ckpt list <store>` (src/Cli) shows what each chain holds.",
            true),
        CheckpointException checkpoint => (JobExitCodes.CheckpointFailure, "Checkpoint failure: " + OneLine(checkpoint.Message), true),
        _ => (JobExitCodes.Unexpected, "Unexpected error (a bug; please report it): " + exception, false),
    };

    /// <summary>Returns <paramref name="text"/> on one line: line breaks and runs of white space become one space.</summary>
    public static string OneLine(string text) =>
        string.Join(' ', text.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Returns <paramref name="text"/> on one line, ending with a full stop, so that a sentence can follow it.</summary>
    public static string Sentence(string text)
    {
        string line = OneLine(text);
        return line.Length == 0 || line[^1] is '.' or '!' or '?' ? line : line + ".";
    }

    /// <summary>The configuration binder's "Failed to convert configuration value at 'Training:Steps' to type 'System.Int64'.".</summary>
    private static bool IsConfigurationValue(InvalidOperationException exception) =>
        exception.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
        || exception.Message.StartsWith("Failed to create instance of type", StringComparison.Ordinal);
}
