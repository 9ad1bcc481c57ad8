using System.CommandLine;
using System.Globalization;
using InputPipeline.Checkpointing.Cli.Internal;
using InputPipeline.Checkpointing.Local;

namespace InputPipeline.Checkpointing.Cli.Commands;

/// <summary>
/// <c>ckpt copy &lt;src&gt; &lt;dst&gt; [--pipeline NAME]</c>: copies chains between stores, each checkpoint committed at the
/// destination by the destination chain's checkpoint manager (parts, then manifest, then state file), oldest first.
/// </summary>
/// <remarks>
/// Resumable: a checkpoint already at the destination with the same step, time and part checksums, and sound when
/// re-read, is skipped; from the first one that is missing or damaged on, every later one is committed again, so the
/// destination's order (its latest) stays the source's.
/// </remarks>
internal static class CopyCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("copy", "Copy pipelines' checkpoints between stores, each committed at the destination by the checkpoint manager (parts, then manifest, then state file), checking every part's length and checksum on the way. Run again after an interruption: checkpoints already copied and sound are skipped.");
        Argument<string> source = CommonArguments.Store("src", "The store to copy from: " + CommonArguments.StoreForms);
        Argument<string> destination = CommonArguments.Store("dst", "The store to copy to (a local directory is created): " + CommonArguments.StoreForms);
        Option<string?> pipeline = CommonArguments.Pipeline("Copy only this pipeline (chain); default: every pipeline.");
        command.Arguments.Add(source);
        command.Arguments.Add(destination);
        command.Options.Add(pipeline);
        StoreAccessOptions sourceAccess = StoreAccessOptions.Create(command, "src-", "the source");
        StoreAccessOptions destinationAccess = StoreAccessOptions.Create(command, "dst-", "the destination");
        command.SetAction((result, cancellationToken) => CliApp.ExecuteAsync(
            context,
            () => RunAsync(context, result.GetValue(source), sourceAccess.Get(result), result.GetValue(destination), destinationAccess.Get(result), result.GetValue(pipeline), cancellationToken),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string? sourceText, StoreAccess sourceAccess, string? destinationText, StoreAccess destinationAccess, string? pipeline, CancellationToken cancellationToken)
    {
        StoreUri sourceUri = CliContext.ParseStore(sourceText);
        StoreUri destinationUri = CliContext.ParseStore(destinationText);
        using OpenedStore source = StoreFactory.Open(sourceUri, sourceAccess, context.Settings.GetEnvironmentVariable, mustExist: true);
        using OpenedStore destination = StoreFactory.Open(destinationUri, destinationAccess, context.Settings.GetEnvironmentVariable, mustExist: false);
        if (SameLocation(source, sourceAccess, destination, destinationAccess))
        {
            throw CliException.BadArguments($"the source and the destination are the same store ({source.Display}).");
        }

        ChainCatalog sourceCatalog = await ChainCatalog.LoadAsync(source, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ChainInfo> chains = sourceCatalog.Select(pipeline);
        ChainCatalog destinationCatalog = await ChainCatalog.LoadAsync(destination, cancellationToken).ConfigureAwait(false);

        var problems = new List<string>();
        var plans = new List<ChainPlan>();
        int chainWidth = chains.Max(c => c.Name.Length);
        foreach (ChainInfo chain in chains)
        {
            plans.Add(await PlanAsync(context, source, destination, destinationCatalog, chain, chainWidth, problems, cancellationToken).ConfigureAwait(false));
        }

        int copied = 0;
        long copiedBytes = 0;
        long totalBytes = plans.Sum(p => p.ToCopy.Sum(m => m.TotalLength));
        var buffered = new List<string>();
        await context.WithProgressAsync($"copy to {destination.Display}", totalBytes, async progress =>
        {
            Action<string> line = progress is null ? context.Out.WriteLine : buffered.Add;
            foreach (ChainPlan plan in plans)
            {
                int keepMax = plan.DestinationCount + plan.ToCopy.Count;
                foreach (CheckpointManifest manifest in plan.ToCopy)
                {
                    string label = TextFormat.Label(plan.Chain.Name, chainWidth, manifest.Step, plan.StepWidth);
                    using CheckpointManager writer = CheckpointResaver.CreateWriter(destination.Store, plan.Chain, keepMax, manifest);
                    try
                    {
                        await CheckpointResaver.ResaveAsync(writer, source.Store, manifest, progress, cancellationToken).ConfigureAwait(false);
                        copied++;
                        copiedBytes += manifest.TotalLength;
                        line($"{label}  copied                   {TextFormat.Count(manifest.Parts.Count, "part")}, {TextFormat.Size(manifest.TotalLength)}");
                    }
                    catch (CheckpointCorruptedException ex)
                    {
                        line($"{label}  NOT COPIED: the source is damaged: {ex.Key}: {ex.Reason}");
                        problems.Add(string.Create(CultureInfo.InvariantCulture, $"pipeline {plan.Chain.Name}, step {manifest.Step}: the source's \"{ex.Key}\" is damaged ({ex.Reason}); it was not copied."));
                    }
                }
            }

            return 0;
        }).ConfigureAwait(false);

        foreach (string text in buffered)
        {
            context.Out.WriteLine(text);
        }

        int skipped = plans.Sum(p => p.Skipped);
        context.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Copied {TextFormat.Count(copied, "checkpoint")} ({TextFormat.Size(copiedBytes)}) of {TextFormat.Count(plans.Count, "pipeline")} from {source.Display} to {destination.Display}; {skipped} already there and verified."));
        if (problems.Count == 0)
        {
            return CliExitCodes.Success;
        }

        foreach (string problem in problems)
        {
            context.Err.WriteLine("ckpt: " + problem);
        }

        return CliExitCodes.Damaged;
    }

    /// <summary>Decides which checkpoints of <paramref name="chain"/> to copy, verifying those already at the destination.</summary>
    private static async Task<ChainPlan> PlanAsync(CliContext context, OpenedStore source, OpenedStore destination, ChainCatalog destinationCatalog, ChainInfo chain, int chainWidth, List<string> problems, CancellationToken cancellationToken)
    {
        var sources = new List<CheckpointManifest>();
        int stepWidth;
        using (CheckpointManager reader = chain.CreateManager(source.Store))
        {
            IReadOnlyList<CheckpointReference> references = await reader.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            stepWidth = TextFormat.StepWidth(references.Select(r => r.Step));
            foreach (CheckpointReference reference in references.OrderBy(r => r.Step).ThenBy(r => r.CreatedAt))
            {
                try
                {
                    sources.Add(await reader.ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false));
                }
                catch (CheckpointCorruptedException ex)
                {
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{TextFormat.Label(chain.Name, chainWidth, reference.Step, stepWidth)}  NOT COPIED: the source is damaged: {ex.Key}: {ex.Reason}"));
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"pipeline {chain.Name}, step {reference.Step}: the source's \"{ex.Key}\" is damaged ({ex.Reason}); it was not copied."));
                }
            }
        }

        ChainInfo? existing = destinationCatalog.Find(chain.Name);
        if (existing is null || !existing.HasCheckpoints)
        {
            return new ChainPlan(chain, sources, 0, 0, stepWidth);
        }

        if (!string.Equals(existing.StateFileKey, chain.StateFileKey, StringComparison.Ordinal))
        {
            throw new CliException(CliExitCodes.Conflict, $"{destination.Display}: pipeline {chain.Name} has the state file \"{existing.StateFileKey}\" there but \"{chain.StateFileKey}\" in {source.Display}; copy it to another location.");
        }

        using CheckpointManager target = existing.CreateManager(destination.Store);
        IReadOnlyList<CheckpointReference> present = await target.ListCheckpointsAsync(cancellationToken).ConfigureAwait(false);
        var there = new Dictionary<long, (CheckpointReference Reference, CheckpointManifest? Manifest, CheckpointCorruptedException? Damage)>();
        foreach (CheckpointReference reference in present)
        {
            try
            {
                there.TryAdd(reference.Step, (reference, await target.ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false), null));
            }
            catch (CheckpointCorruptedException ex)
            {
                there.TryAdd(reference.Step, (reference, null, ex));
            }
        }

        // Never replace a sound checkpoint of another run: the same step must hold the same content.
        foreach (CheckpointManifest wanted in sources)
        {
            if (there.TryGetValue(wanted.Step, out var match) && match.Manifest is { } other && !CheckpointResaver.SameContent(other, wanted))
            {
                throw new CliException(CliExitCodes.Conflict, string.Create(
                    CultureInfo.InvariantCulture,
                    $"{destination.Display}: pipeline {chain.Name} already has a different checkpoint at step {wanted.Step} (taken {TextFormat.Time(other.CreatedAt)} by {other.WriterId}; the source's was taken {TextFormat.Time(wanted.CreatedAt)} by {wanted.WriterId}); copy to an empty location, or prune the destination first."));
            }
        }

        // Skip the oldest source checkpoints the destination already holds, identical and sound; from the first one
        // that is missing or damaged on, copy everything, so the destination's newest stays the source's newest.
        int skip = 0;
        foreach (CheckpointManifest wanted in sources)
        {
            if (!there.TryGetValue(wanted.Step, out var match))
            {
                break;
            }

            string label = TextFormat.Label(chain.Name, chainWidth, wanted.Step, stepWidth);
            CheckpointCorruptedException? damage = match.Damage;
            if (damage is null)
            {
                try
                {
                    await target.VerifyAsync(match.Reference, cancellationToken).ConfigureAwait(false);
                }
                catch (CheckpointCorruptedException ex)
                {
                    damage = ex;
                }
            }

            if (damage is not null)
            {
                context.Out.WriteLine($"{label}  damaged at the destination ({damage.Key}: {damage.Reason.TrimEnd('.')}); copying it again");
                break;
            }

            context.Out.WriteLine($"{label}  already there, verified");
            skip++;
        }

        List<CheckpointManifest> toCopy = [.. sources.Skip(skip)];
        if (toCopy.Count > 0)
        {
            long first = toCopy[0].Step;
            long[] newerOnlyThere = [.. present.Where(r => r.Step > first && !sources.Any(s => s.Step == r.Step)).Select(r => r.Step).Order()];
            if (newerOnlyThere.Length > 0)
            {
                throw new CliException(CliExitCodes.Conflict, string.Create(
                    CultureInfo.InvariantCulture,
                    $"{destination.Display}: pipeline {chain.Name} there holds checkpoints the source does not (steps {string.Join(", ", newerOnlyThere)}) that are newer than step {first} to be copied; copy to an empty location, or prune the destination first."));
            }
        }

        return new ChainPlan(chain, toCopy, present.Count, skip, stepWidth);
    }

    private static bool SameLocation(OpenedStore source, StoreAccess sourceAccess, OpenedStore destination, StoreAccess destinationAccess)
    {
        if (source.Store is LocalInputStateStore a && destination.Store is LocalInputStateStore b)
        {
            return string.Equals(a.RootPath, b.RootPath, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
        }

        return source.Uri.Equals(destination.Uri) && Equals(sourceAccess.Endpoint, destinationAccess.Endpoint);
    }

    /// <param name="Chain">The source chain (its name and state file key are kept).</param>
    /// <param name="ToCopy">The manifests to commit at the destination, oldest first.</param>
    /// <param name="DestinationCount">The checkpoints the destination chain retains now.</param>
    /// <param name="Skipped">The checkpoints already there and verified.</param>
    /// <param name="StepWidth">The width of the chain's widest step, to align the output.</param>
    private sealed record ChainPlan(ChainInfo Chain, IReadOnlyList<CheckpointManifest> ToCopy, int DestinationCount, int Skipped, int StepWidth);
}
