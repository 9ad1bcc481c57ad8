using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary><c>ckpt list &lt;store&gt; [--pipeline NAME] [--json | --watch [--interval D] [--count N]]</c>: every chain and its retained checkpoints.</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("list", "List every pipeline (checkpoint chain) in a store and its retained checkpoints: step, time, size, parts, writer, and which is the latest.");
        Argument<string> store = CommonArguments.Store();
        Option<string?> pipeline = CommonArguments.Pipeline("List only this pipeline (chain), for example input, input_worker_1 or model.");
        Option<bool> json = CommonArguments.Json("Write JSON (sizes in bytes, times in UTC ISO 8601) instead of a table.");
        command.Arguments.Add(store);
        command.Options.Add(pipeline);
        command.Options.Add(json);
        StoreAccessOptions access = StoreAccessOptions.Create(command);
        Watcher watcher = Watcher.AddTo(command, "the list", json);
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            async () =>
            {
                using OpenedStore opened = context.Open(result.GetValue(store), access.Get(result), mustExist: true);
                return await watcher.RunAsync(
                    context,
                    result,
                    (output, now, ct) => RunAsync(output, opened, result.GetValue(pipeline), result.GetValue(json), now, ct),
                    cancellationToken).ConfigureAwait(false);
            },
            cancellationToken));
        return command;
    }

    /// <summary>Lists once to <paramref name="output"/>; with <paramref name="now"/> (a <c>--watch</c> refresh) each checkpoint's age too.</summary>
    private static async Task<int> RunAsync(TextWriter output, OpenedStore store, string? pipeline, bool json, DateTimeOffset? now, CancellationToken cancellationToken)
    {
        ChainCatalog catalog = await ChainCatalog.LoadAsync(store, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ChainInfo> chains = pipeline is null ? [.. catalog.Chains.Where(c => c.HasCheckpoints)] : catalog.Select(pipeline);

        var listed = new List<ChainJson>(chains.Count);
        foreach (ChainInfo chain in chains)
        {
            using CheckpointManager manager = chain.CreateManager(store.Store);
            IReadOnlyList<CheckpointReference> references = await manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            var checkpoints = new List<CheckpointJson>(references.Count);
            for (int i = 0; i < references.Count; i++)
            {
                CheckpointReference reference = references[i];
                try
                {
                    CheckpointManifest manifest = await manager.ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false);
                    checkpoints.Add(new CheckpointJson(reference.Step, reference.CreatedAt, i == 0, reference.ManifestKey, manifest.TotalLength, manifest.Parts.Count, manifest.WriterId, null));
                }
                catch (CheckpointCorruptedException ex)
                {
                    checkpoints.Add(new CheckpointJson(reference.Step, reference.CreatedAt, i == 0, reference.ManifestKey, null, null, null, ex.Message));
                }
            }

            listed.Add(new ChainJson(chain.Name, chain.StateFileKey, StatusName(chain.StateFile), chain.StateFileProblem, checkpoints));
        }

        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new ListJson(store.Display, store.Store.ProviderName, listed), CliJsonContext.Default.ListJson));
            return CliExitCodes.Success;
        }

        output.WriteLine($"{store.Display} ({store.Store.ProviderName})");
        if (listed.Count == 0)
        {
            output.WriteLine("No checkpoints.");
            return CliExitCodes.Success;
        }

        foreach (ChainJson chain in listed)
        {
            output.WriteLine();
            string state = chain.StateFileStatus switch
            {
                "missing" => $"no state file {chain.StateFile}: found by listing manifests",
                "damaged" => $"state file {chain.StateFile} DAMAGED: found by listing manifests",
                _ => $"state file {chain.StateFile}",
            };
            output.WriteLine($"pipeline {chain.Name}  ({state}; {TextFormat.Count(chain.Checkpoints.Count, "checkpoint")})");
            if (chain.StateFileProblem is not null)
            {
                output.WriteLine($"  {chain.StateFileProblem}");
            }

            if (chain.Checkpoints.Count == 0)
            {
                continue;
            }

            TextFormat.Table(
                output,
                "  ",
                now is null ? ["STEP", "CREATED (UTC)", "SIZE", "PARTS", "WRITER", string.Empty] : ["STEP", "CREATED (UTC)", "AGE", "SIZE", "PARTS", "WRITER", string.Empty],
                chain.Checkpoints.Select(c => (IReadOnlyList<string>)
                [
                    c.Step.ToString(CultureInfo.InvariantCulture),
                    TextFormat.Time(c.CreatedAt),
                    .. now is { } at ? (string[])[TextFormat.Age(at - c.CreatedAt)] : [],
                    c.Size is { } size ? TextFormat.Size(size) : "?",
                    c.Parts?.ToString(CultureInfo.InvariantCulture) ?? "?",
                    c.Writer ?? "?",
                    c.Damaged is not null ? "DAMAGED: " + c.Damaged : c.Latest ? "latest" : string.Empty,
                ]));
        }

        return CliExitCodes.Success;
    }

    internal static string StatusName(StateFileStatus status) => status switch
    {
        StateFileStatus.Missing => "missing",
        StateFileStatus.Damaged => "damaged",
        _ => "ok",
    };
}
