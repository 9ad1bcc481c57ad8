using System.Buffers;
using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>
/// Commits a copy of an existing checkpoint through a <see cref="CheckpointManager"/>'s own <see cref="CheckpointManager.SaveAsync"/>:
/// each part is streamed from the store that holds it, its length and checksum checked against its manifest on the
/// way, into create-only parts; then the manager writes the manifest and swaps the state file, and applies its
/// retention. The step, capture time, writer id, part names and bytes are kept; the save id (so the keys) is new.
/// </summary>
internal static class CheckpointResaver
{
    /// <summary>
    /// The grace period of the managers that re-commit: long enough that their first commit collects no orphan, so a
    /// copy or prune deletes nothing but what its retention drops (orphans are <c>ckpt gc</c>'s job).
    /// </summary>
    private static readonly TimeSpan NoOrphanCollection = TimeSpan.FromDays(365 * 100);

    /// <summary>Creates the manager that re-commits <paramref name="manifest"/> into <paramref name="chain"/> of <paramref name="store"/>, keeping at most <paramref name="keepMax"/> checkpoints.</summary>
    public static CheckpointManager CreateWriter(IInputStateStore store, ChainInfo chain, int keepMax, CheckpointManifest manifest) =>
        chain.CreateManager(
            store,
            options =>
            {
                options.KeepMax = Math.Max(1, keepMax);
                options.OrphanGracePeriod = NoOrphanCollection;
                options.WriterId = manifest.WriterId is { Length: > 0 and <= 200 } writer ? writer : null;
            },
            new FixedTimeProvider(manifest.CreatedAt));

    /// <summary>Re-commits <paramref name="manifest"/>, whose parts are in <paramref name="source"/>, through <paramref name="writer"/>.</summary>
    /// <param name="writer">The destination chain's manager, from <see cref="CreateWriter"/>.</param>
    /// <param name="source">The store holding the parts.</param>
    /// <param name="manifest">The checkpoint to copy.</param>
    /// <param name="progress">Called with the number of bytes read from the source, as they are read.</param>
    /// <param name="cancellationToken">Cancels the copy; a cancelled copy commits nothing.</param>
    /// <returns>The committed checkpoint and its manifest.</returns>
    /// <exception cref="CheckpointCorruptedException">A source part is missing, truncated or does not match its checksum; nothing was committed.</exception>
    /// <exception cref="CheckpointOwnershipLostException">Another writer committed to the destination chain meanwhile.</exception>
    /// <exception cref="CheckpointStoreException">A store is unreachable or refused a request.</exception>
    public static async Task<(CheckpointReference Reference, CheckpointManifest Manifest)> ResaveAsync(
        CheckpointManager writer, IInputStateStore source, CheckpointManifest manifest, Action<long>? progress, CancellationToken cancellationToken)
    {
        KeyValuePair<string, ICheckpointSnapshot>[] snapshots =
        [
            .. manifest.Parts.Select(part => KeyValuePair.Create(
                part.Name,
                CheckpointSnapshots.FromWriter((destination, ct) => CopyPartAsync(source, part, destination, progress, ct), part.Length))),
        ];

        CheckpointReference reference;
        try
        {
            reference = await writer.SaveAsync(manifest.Step, snapshots, cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointSaveException ex) when (ex.InnerException is CheckpointCorruptedException or CheckpointStoreException)
        {
            // The source failed while a part was streamed: that failure is the cause, not the abandoned save.
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }

        CheckpointManifest written = await writer.ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < manifest.Parts.Count; i++)
        {
            if (!string.Equals(written.Parts[i].Checksum, manifest.Parts[i].Checksum, StringComparison.Ordinal) || written.Parts[i].Length != manifest.Parts[i].Length)
            {
                throw new CheckpointCorruptedException(written.Parts[i].Key, $"the copy records {written.Parts[i].Length} bytes with checksum {written.Parts[i].Checksum}, the source {manifest.Parts[i].Length} bytes with {manifest.Parts[i].Checksum}.");
            }
        }

        return (reference, written);
    }

    /// <summary>Returns whether two manifests describe the same checkpoint content: step, capture time, and parts (name, length, checksum, in order).</summary>
    public static bool SameContent(CheckpointManifest a, CheckpointManifest b) =>
        a.Step == b.Step
        && a.CreatedAt == b.CreatedAt
        && a.Parts.Count == b.Parts.Count
        && a.Parts.Zip(b.Parts).All(p =>
            string.Equals(p.First.Name, p.Second.Name, StringComparison.Ordinal)
            && p.First.Length == p.Second.Length
            && string.Equals(p.First.Checksum, p.Second.Checksum, StringComparison.Ordinal));

    private static async ValueTask CopyPartAsync(IInputStateStore source, CheckpointPartInfo part, Stream destination, Action<long>? progress, CancellationToken cancellationToken)
    {
        // The manager's own verified read: length and checksum are checked against the source manifest as it streams.
        Stream verified = await CheckpointManager.OpenVerifiedPartAsync(source, part, cancellationToken).ConfigureAwait(false);
        await using (verified.ConfigureAwait(false))
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
            try
            {
                int count;
                while ((count = await verified.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await destination.WriteAsync(buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                    progress?.Invoke(count);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>A clock stopped at the source checkpoint's capture time, so the copy records the same time.</summary>
    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
