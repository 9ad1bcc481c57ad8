using System.CommandLine;
using System.Globalization;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary><c>ckpt verify &lt;store&gt; [--pipeline NAME] [--all]</c>: re-reads every part and checks its length and checksum.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("verify", "Re-read every part of the latest checkpoint of each pipeline (or of every retained checkpoint with --all) and check its length and checksum against the manifest. Exits 0 when all are sound, 4 naming each damaged object otherwise.");
        Argument<string> store = CommonArguments.Store();
        Option<string?> pipeline = CommonArguments.Pipeline("Verify only this pipeline (chain); default: every pipeline.");
        var all = new Option<bool>("--all", "-a") { Description = "Verify every retained checkpoint, not only the latest." };
        command.Arguments.Add(store);
        command.Options.Add(pipeline);
        command.Options.Add(all);
        StoreAccessOptions access = StoreAccessOptions.Create(command);
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            () => RunAsync(context, result.GetValue(store), access.Get(result), result.GetValue(pipeline), result.GetValue(all), cancellationToken),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string? storeText, StoreAccess access, string? pipeline, bool all, CancellationToken cancellationToken)
    {
        using OpenedStore store = context.Open(storeText, access, mustExist: true);
        ChainCatalog catalog = await ChainCatalog.LoadAsync(store, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ChainInfo> chains = catalog.Select(pipeline);

        int chainWidth = chains.Max(c => c.Name.Length);
        int checkedCount = 0;
        var damaged = new List<string>();
        foreach (ChainInfo chain in chains)
        {
            if (chain.StateFile == StateFileStatus.Damaged)
            {
                string problem = $"pipeline {chain.Name}: state file \"{chain.StateFileKey}\" is damaged: {chain.StateFileProblem}";
                damaged.Add(problem);
                context.Out.WriteLine($"{chain.Name.PadRight(chainWidth)}  state file {chain.StateFileKey}  DAMAGED  {chain.StateFileProblem}");
            }

            using CheckpointManager manager = chain.CreateManager(store.Store);
            IReadOnlyList<CheckpointReference> references = await manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            if (references.Count == 0)
            {
                context.Out.WriteLine($"{chain.Name.PadRight(chainWidth)}  no retained checkpoint");
                continue;
            }

            IReadOnlyList<CheckpointReference> chosen = all ? references : [references[0]];
            int stepWidth = TextFormat.StepWidth(chosen.Select(r => r.Step));
            foreach (CheckpointReference reference in chosen)
            {
                checkedCount++;
                string label = TextFormat.Label(chain.Name, chainWidth, reference.Step, stepWidth);
                try
                {
                    CheckpointManifest manifest = await manager.VerifyAsync(reference, cancellationToken).ConfigureAwait(false);
                    context.Out.WriteLine($"{label}  ok       {TextFormat.Count(manifest.Parts.Count, "part")}, {TextFormat.Size(manifest.TotalLength)}");
                }
                catch (CheckpointCorruptedException ex)
                {
                    string kind = CheckpointKeyLayout.IsPartKey(ex.Key) ? "part" : CheckpointKeyLayout.IsManifestKey(ex.Key) ? "manifest" : "object";
                    context.Out.WriteLine($"{label}  DAMAGED  {kind} {ex.Key}: {ex.Reason}");
                    damaged.Add(string.Create(CultureInfo.InvariantCulture, $"pipeline {chain.Name}, step {reference.Step}: damaged {kind} \"{ex.Key}\": {ex.Reason}"));
                }
            }
        }

        if (damaged.Count == 0)
        {
            context.Out.WriteLine($"{TextFormat.Count(checkedCount, "checkpoint")} verified: all sound.");
            return CliExitCodes.Success;
        }

        foreach (string problem in damaged)
        {
            context.Err.WriteLine("ckpt: " + problem);
        }

        context.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ckpt: {store.Display}: {damaged.Count} damaged (of {TextFormat.Count(checkedCount, "checkpoint")} verified). A restore falls back to the newest sound retained checkpoint, if there is one; `ckpt verify --all` shows which are sound."));
        return CliExitCodes.Damaged;
    }
}
