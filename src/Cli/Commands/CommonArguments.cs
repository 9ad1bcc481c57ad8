using System.CommandLine;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary>Arguments and options several commands share.</summary>
internal static class CommonArguments
{
    public const string StoreForms = "a path, file:///path, s3://bucket/prefix, gs://bucket/prefix or az://account/container/prefix.";

    public static Argument<string> Store(string name = "store", string? description = null) => new(name)
    {
        Description = description ?? "The store: " + StoreForms,
    };

    public static Option<string?> Pipeline(string description) => new("--pipeline", "-p")
    {
        Description = description,
        HelpName = "name",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
            if (!StoreKey.IsValidName(text))
            {
                result.AddError($"--pipeline: \"{text}\" is not a pipeline (chain) name such as input, input_worker_1 or model.");
                return null;
            }

            return text;
        },
    };

    /// <summary>Parses an integer option's single token, adding a parse error (exit code 2) when it is not a whole number in range.</summary>
    public static long? ParseInteger(System.CommandLine.Parsing.ArgumentResult result, string name, long minimum, long maximum = long.MaxValue)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value) || value < minimum || value > maximum)
        {
            result.AddError(minimum == 0
                ? $"{name}: \"{text}\" is not a whole number of zero or more."
                : $"{name}: \"{text}\" is not a whole number of at least {minimum}.");
            return null;
        }

        return value;
    }

    public static Option<bool> Json(string description) => new("--json")
    {
        Description = description,
    };

    public static Option<bool> DryRun() => new("--dry-run", "-n")
    {
        Description = "Show what would be deleted, and change nothing.",
    };

    /// <summary>Returns the chain's retained checkpoints, newest first, through its checkpoint manager.</summary>
    public static async Task<IReadOnlyList<CheckpointReference>> ListAsync(ChainInfo chain, IInputStateStore store, CancellationToken cancellationToken)
    {
        using CheckpointManager manager = chain.CreateManager(store);
        return await manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
    }
}
