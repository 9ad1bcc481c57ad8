using System.CommandLine;
using System.Globalization;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary><c>ckpt prune &lt;store&gt; --keep N [--pipeline NAME] [--dry-run]</c>: retention through the checkpoint manager.</summary>
/// <remarks>
/// <see cref="CheckpointManager.PruneAsync"/> commits the shorter retained list by compare-and-swap of the state file,
/// then deletes the dropped checkpoints, each manifest before its parts: the writer's own retention code. The prune's
/// manager does not own the chain, so it keeps the owner's epoch and a job writing the chain goes on.
/// </remarks>
internal static class PruneCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("prune", "Keep only the N newest checkpoints of each pipeline, through the checkpoint manager's own retention (it commits the shorter list, then deletes the older ones, manifest before parts). Safe while a job writes the pipeline: the prune keeps the job's ownership (its owner epoch), and a commit the job makes meanwhile is re-read and the prune applied on top of it.");
        Argument<string> store = CommonArguments.Store();
        var keep = new Option<int>("--keep", "-k")
        {
            Description = "How many of the newest checkpoints to keep per pipeline; at least 1.",
            HelpName = "N",
            Required = true,
            CustomParser = result => (int)(CommonArguments.ParseInteger(result, "--keep", minimum: 1, maximum: int.MaxValue) ?? 0),
        };
        Option<string?> pipeline = CommonArguments.Pipeline("Prune only this pipeline (chain); default: every pipeline.");
        Option<bool> dryRun = CommonArguments.DryRun();
        command.Arguments.Add(store);
        command.Options.Add(keep);
        command.Options.Add(pipeline);
        command.Options.Add(dryRun);
        StoreAccessOptions access = StoreAccessOptions.Create(command);
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            () => RunAsync(context, result.GetValue(store), access.Get(result), result.GetValue(keep), result.GetValue(pipeline), result.GetValue(dryRun), cancellationToken),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string? storeText, StoreAccess access, int keep, string? pipeline, bool dryRun, CancellationToken cancellationToken)
    {
        using OpenedStore store = context.Open(storeText, access, mustExist: true);
        ChainCatalog catalog = await ChainCatalog.LoadAsync(store, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ChainInfo> chains = catalog.Select(pipeline);
        string verb = dryRun ? "would delete" : "deleting";
        int prunedCheckpoints = 0;
        var leftovers = new List<string>();

        foreach (ChainInfo chain in chains)
        {
            using CheckpointManager manager = chain.CreateManager(store.Store);
            IReadOnlyList<CheckpointReference> references = await manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            if (references.Count <= keep)
            {
                context.Out.WriteLine($"pipeline {chain.Name}: {TextFormat.Count(references.Count, "checkpoint")}, nothing to prune.");
                continue;
            }

            IReadOnlyList<CheckpointReference> dropped = [.. references.Skip(keep)];
            context.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"pipeline {chain.Name}: {TextFormat.Count(references.Count, "checkpoint")}; keeping the {keep} newest (steps {Steps(references.Take(keep))}), removing {dropped.Count} (steps {Steps(dropped)})."));
            context.Out.WriteLine("  the checkpoint manager commits the shorter list, then deletes, manifest first:");

            var doomed = new List<string>();
            foreach (CheckpointReference reference in dropped)
            {
                foreach (string key in await ObjectsOfAsync(manager, catalog, reference, cancellationToken).ConfigureAwait(false))
                {
                    doomed.Add(key);
                    context.Out.WriteLine($"    {verb}  {key}");
                }
            }

            if (dryRun)
            {
                continue;
            }

            prunedCheckpoints += (await manager.PruneAsync(keep, dryRun: false, cancellationToken).ConfigureAwait(false)).Count;

            // The manager logs and skips a retention delete that fails; say so rather than claim success.
            var remaining = new HashSet<string>(StringComparer.Ordinal);
            await foreach (StoreObjectInfo info in store.Store.ListAsync(manager.ChainPrefix, cancellationToken).ConfigureAwait(false))
            {
                remaining.Add(info.Key);
            }

            leftovers.AddRange(doomed.Where(remaining.Contains));
        }

        if (dryRun)
        {
            context.Out.WriteLine("Dry run: nothing was changed.");
            return CliExitCodes.Success;
        }

        foreach (string key in leftovers)
        {
            context.Warn($"{store.Display}: \"{key}\" could not be deleted; it is no longer referenced, so `ckpt gc` collects it once older than its grace period.");
        }

        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Pruned {TextFormat.Count(prunedCheckpoints, "checkpoint")}."));
        return CliExitCodes.Success;
    }

    private static string Steps(IEnumerable<CheckpointReference> references) =>
        string.Join(", ", references.Select(r => r.Step.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Returns the keys of a checkpoint's manifest and parts: from the manifest, or by the save prefix when it is unreadable.</summary>
    private static async Task<IReadOnlyList<string>> ObjectsOfAsync(CheckpointManager manager, ChainCatalog catalog, CheckpointReference reference, CancellationToken cancellationToken)
    {
        try
        {
            CheckpointManifest manifest = await manager.ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false);
            return [reference.ManifestKey, .. manifest.Parts.Select(p => p.Key)];
        }
        catch (CheckpointCorruptedException)
        {
            string savePrefix = CheckpointKeyLayout.SavePrefixOf(reference.ManifestKey) + ".";
            return [reference.ManifestKey, .. catalog.Objects.Keys.Where(k => k.StartsWith(savePrefix, StringComparison.Ordinal) && k != reference.ManifestKey).Order(StringComparer.Ordinal)];
        }
    }
}
