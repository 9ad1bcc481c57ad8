using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary><c>ckpt list &lt;store&gt; [--pipeline NAME] [--json]</c>: every chain and its retained checkpoints.</summary>
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
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            () => RunAsync(context, result.GetValue(store), access.Get(result), result.GetValue(pipeline), result.GetValue(json), cancellationToken),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string? storeText, StoreAccess access, string? pipeline, bool json, CancellationToken cancellationToken)
    {
        using OpenedStore store = context.Open(storeText, access, mustExist: true);
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
            context.Out.WriteLine(JsonSerializer.Serialize(new ListJson(store.Display, store.Store.ProviderName, listed), CliJsonContext.Default.ListJson));
            return CliExitCodes.Success;
        }

        context.Out.WriteLine($"{store.Display} ({store.Store.ProviderName})");
        if (listed.Count == 0)
        {
            context.Out.WriteLine("No checkpoints.");
            return CliExitCodes.Success;
        }

        foreach (ChainJson chain in listed)
        {
            context.Out.WriteLine();
            string state = chain.StateFileStatus switch
            {
                "missing" => $"no state file {chain.StateFile}: found by listing manifests",
                "damaged" => $"state file {chain.StateFile} DAMAGED: found by listing manifests",
                _ => $"state file {chain.StateFile}",
            };
            context.Out.WriteLine($"pipeline {chain.Name}  ({state}; {TextFormat.Count(chain.Checkpoints.Count, "checkpoint")})");
            if (chain.StateFileProblem is not null)
            {
                context.Out.WriteLine($"  {chain.StateFileProblem}");
            }

            if (chain.Checkpoints.Count == 0)
            {
                continue;
            }

            TextFormat.Table(
                context.Out,
                "  ",
                ["STEP", "CREATED (UTC)", "SIZE", "PARTS", "WRITER", string.Empty],
                chain.Checkpoints.Select(c => (IReadOnlyList<string>)
                [
                    c.Step.ToString(CultureInfo.InvariantCulture),
                    TextFormat.Time(c.CreatedAt),
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
