using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using InputPipeline.Checkpointing.Cli.Internal;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary><c>ckpt show &lt;store&gt; [--pipeline NAME] [--step N] [--json | --watch [--interval D] [--count N]]</c>: a checkpoint's manifest, parts, sizes and checksums.</summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("show", "Show a checkpoint's manifest: step, time, writer, save id, and each part's name, key, length and checksum. By default the latest checkpoint of every pipeline.");
        Argument<string> store = CommonArguments.Store();
        Option<string?> pipeline = CommonArguments.Pipeline("Show only this pipeline (chain); default: every pipeline.");
        var step = new Option<long?>("--step", "-s")
        {
            Description = "Show the checkpoint taken at this global step instead of the latest.",
            HelpName = "N",
            CustomParser = result => CommonArguments.ParseInteger(result, "--step", minimum: 0),
        };
        Option<bool> json = CommonArguments.Json("Write JSON instead of text.");
        command.Arguments.Add(store);
        command.Options.Add(pipeline);
        command.Options.Add(step);
        command.Options.Add(json);
        StoreAccessOptions access = StoreAccessOptions.Create(command);
        Watcher watcher = Watcher.AddTo(command, "the latest checkpoint (or the one at --step)", json);
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            async () =>
            {
                using OpenedStore opened = context.Open(result.GetValue(store), access.Get(result), mustExist: true);
                return await watcher.RunAsync(
                    context,
                    result,
                    (output, now, ct) => RunAsync(output, opened, result.GetValue(pipeline), result.GetValue(step), result.GetValue(json), now, ct),
                    cancellationToken).ConfigureAwait(false);
            },
            cancellationToken));
        return command;
    }

    /// <summary>Shows once to <paramref name="output"/>; with <paramref name="now"/> (a <c>--watch</c> refresh) the checkpoint's age too.</summary>
    private static async Task<int> RunAsync(TextWriter output, OpenedStore store, string? pipeline, long? step, bool json, DateTimeOffset? now, CancellationToken cancellationToken)
    {
        ChainCatalog catalog = await ChainCatalog.LoadAsync(store, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ChainInfo> chains = catalog.Select(pipeline);

        var shown = new List<ShowCheckpointJson>();
        var retainedSteps = new List<string>();
        foreach (ChainInfo chain in chains)
        {
            using CheckpointManager manager = chain.CreateManager(store.Store);
            IReadOnlyList<CheckpointReference> references = await manager.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            retainedSteps.Add($"{chain.Name}: {(references.Count == 0 ? "none" : string.Join(", ", references.Select(r => r.Step.ToString(CultureInfo.InvariantCulture))))}");
            CheckpointReference? chosen = step is { } wanted ? references.FirstOrDefault(r => r.Step == wanted) : references.Count > 0 ? references[0] : null;
            if (chosen is null)
            {
                continue;
            }

            CheckpointManifest manifest = await manager.ReadManifestAsync(chosen, cancellationToken).ConfigureAwait(false);
            shown.Add(new ShowCheckpointJson(
                chain.Name,
                chain.StateFileKey,
                chosen.Step,
                ReferenceEquals(chosen, references[0]),
                chosen.ManifestKey,
                manifest.FormatVersion,
                manifest.CreatedAt,
                manifest.WriterId,
                manifest.SaveId,
                manifest.TotalLength,
                [.. manifest.Parts.Select(p => new PartJson(p.Name, p.Key, p.Length, p.Checksum))]));
        }

        if (shown.Count == 0)
        {
            string what = step is { } s ? string.Create(CultureInfo.InvariantCulture, $"no checkpoint at step {s}") : "no retained checkpoint";
            throw CliException.NotFound($"{store.Display}: {what} (retained steps: {string.Join("; ", retainedSteps)}).");
        }

        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new ShowJson(store.Display, store.Store.ProviderName, shown), CliJsonContext.Default.ShowJson));
            return CliExitCodes.Success;
        }

        bool first = true;
        foreach (ShowCheckpointJson checkpoint in shown)
        {
            if (!first)
            {
                output.WriteLine();
            }

            first = false;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pipeline {checkpoint.Chain}, step {checkpoint.Step}{(checkpoint.Latest ? " (latest)" : string.Empty)}"));
            TextFormat.Table(
                output,
                "  ",
                ["manifest", checkpoint.Manifest],
                [
                    ["state file", checkpoint.StateFile],
                    ["created", now is { } at ? $"{TextFormat.Time(checkpoint.CreatedAt)} ({TextFormat.Age(at - checkpoint.CreatedAt)})" : TextFormat.Time(checkpoint.CreatedAt)],
                    ["writer", checkpoint.WriterId],
                    ["save id", checkpoint.SaveId],
                    ["format", checkpoint.FormatVersion.ToString(CultureInfo.InvariantCulture)],
                    ["size", string.Create(CultureInfo.InvariantCulture, $"{TextFormat.Size(checkpoint.TotalLength)} ({checkpoint.TotalLength} bytes) in {TextFormat.Count(checkpoint.Parts.Count, "part")}")],
                ]);
            TextFormat.Table(
                output,
                "  ",
                ["PART", "LENGTH", "CHECKSUM", "KEY"],
                checkpoint.Parts.Select(p => (IReadOnlyList<string>)[p.Name, p.Length.ToString(CultureInfo.InvariantCulture), p.Checksum, p.Key]));
        }

        return CliExitCodes.Success;
    }
}
