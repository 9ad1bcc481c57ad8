using System.CommandLine;
using System.Globalization;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary><c>ckpt gc &lt;store&gt; [--grace 1h] [--pipeline NAME] [--dry-run]</c>: orphan collection through the checkpoint manager.</summary>
internal static class GcCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("gc", "Delete the orphans of crashed saves: manifests and parts that no retained checkpoint references and that are older than the grace period, with the checkpoint manager's own orphan collection (manifests first).");
        Argument<string> store = CommonArguments.Store();
        var grace = new Option<TimeSpan>("--grace", "-g")
        {
            Description = "Only collect objects older than this, so saves in flight are left alone: 1h, 30m, 1h30m, 2d, 45s, 0 or 01:00:00.",
            HelpName = "duration",
            DefaultValueFactory = _ => CheckpointManagerOptions.DefaultOrphanGracePeriod,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
                if (DurationParser.TryParse(text, out TimeSpan duration))
                {
                    return duration;
                }

                result.AddError($"--grace: \"{text}\" is not a duration such as 1h, 30m, 1h30m, 2d, 45s, 0 or 01:00:00.");
                return default;
            },
        };
        Option<string?> pipeline = CommonArguments.Pipeline("Collect only this pipeline's (chain's) orphans; default: every pipeline.");
        Option<bool> dryRun = CommonArguments.DryRun();
        command.Arguments.Add(store);
        command.Options.Add(grace);
        command.Options.Add(pipeline);
        command.Options.Add(dryRun);
        StoreAccessOptions access = StoreAccessOptions.Create(command);
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            () => RunAsync(context, result.GetValue(store), access.Get(result), result.GetValue(grace), result.GetValue(pipeline), result.GetValue(dryRun), cancellationToken),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string? storeText, StoreAccess access, TimeSpan grace, string? pipeline, bool dryRun, CancellationToken cancellationToken)
    {
        using OpenedStore store = context.Open(storeText, access, mustExist: true);
        ChainCatalog catalog = await ChainCatalog.LoadAsync(store, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ChainInfo> chains = pipeline is null ? catalog.Chains : catalog.Select(pipeline, withCheckpointsOnly: false);
        if (chains.Count == 0)
        {
            context.Out.WriteLine($"{store.Display}: no checkpoint objects.");
            return CliExitCodes.Success;
        }

        int total = 0;
        long bytes = 0;
        foreach (ChainInfo chain in chains)
        {
            using CheckpointManager manager = chain.CreateManager(store.Store, options => options.OrphanGracePeriod = grace);
            IReadOnlyList<string> orphans = await manager.CollectOrphansAsync(dryRun, cancellationToken).ConfigureAwait(false);
            context.Out.WriteLine($"pipeline {chain.Name}: {TextFormat.Count(orphans.Count, "orphan")} older than {TextFormat.Duration(grace)}");
            if (orphans.Count == 0)
            {
                continue;
            }

            TextFormat.Table(
                context.Out,
                "  ",
                [dryRun ? "WOULD DELETE" : "DELETED", "SIZE", "MODIFIED (UTC)"],
                orphans.Select(key => catalog.Objects.TryGetValue(key, out StoreObjectInfo? info)
                    ? (IReadOnlyList<string>)[key, TextFormat.Size(info.Length), TextFormat.Time(info.LastModified)]
                    : [key, "?", "?"]));
            total += orphans.Count;
            bytes += orphans.Sum(key => catalog.Objects.TryGetValue(key, out StoreObjectInfo? info) ? info.Length : 0);
        }

        context.Out.WriteLine(dryRun
            ? "Dry run: nothing was changed."
            : string.Create(CultureInfo.InvariantCulture, $"Deleted {TextFormat.Count(total, "orphan")} ({TextFormat.Size(bytes)})."));
        return CliExitCodes.Success;
    }
}
