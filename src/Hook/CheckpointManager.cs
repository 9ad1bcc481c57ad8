using System.Diagnostics.Metrics;
using InputPipeline.Checkpointing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing;

/// <summary>
/// Saves, commits, retains and restores the checkpoints of one chain in an <see cref="IInputStateStore"/>, with the
/// commit protocol of the design: a writer claims the chain when it starts (a new owner epoch in the state file), then
/// each save writes create-only parts, a create-only manifest, and commits by a compare-and-swap of the state file that
/// holds only while the state file still names this writer's epoch; retention deletes a dropped manifest before its
/// parts; restore verifies lengths and checksums and falls back to the previous retained checkpoint.
/// </summary>
/// <remarks>
/// <para>
/// A crash at any instant leaves the previously committed checkpoint intact and readable. A writer replaced by a newer
/// one (see <see cref="ClaimAsync"/> and <see cref="CheckpointManagerOptions.Ownership"/>) throws
/// <see cref="CheckpointOwnershipLostException"/> from its next commit and refuses every later save; a change that
/// keeps the owner, such as <see cref="PruneAsync"/> by another manager, is re-read and the commit re-applied.
/// </para>
/// <para>The methods are safe to call from several threads; they run one at a time.</para>
/// <para>Saves and restores are measured and traced (see <see cref="CheckpointingTelemetry"/>) until the manager is disposed.</para>
/// </remarks>
public sealed partial class CheckpointManager : IDisposable
{
    private readonly ChainContext _chain;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ChainOwnership _ownership;
    private readonly ChainView _view;
    private readonly StateFileCommitter _committer;
    private readonly ChainClaimer _claimer;
    private readonly CheckpointRestorer _restorer;
    private readonly RetentionCollector _retention;
    private readonly CheckpointSaver _saver;
    private readonly OperationTelemetry _telemetry;

    /// <summary>Creates a manager for one chain.</summary>
    /// <param name="store">The store the chain lives in.</param>
    /// <param name="options">The chain and its retention; copied, so later changes have no effect.</param>
    /// <param name="logger">The logger; <see langword="null"/> (the default) logs nothing.</param>
    /// <param name="timeProvider">
    /// The clock for manifest times, orphan grace periods, durations and the age of the latest checkpoint;
    /// <see langword="null"/> (the default) is <see cref="TimeProvider.System"/>.
    /// </param>
    /// <param name="meterFactory">
    /// Creates the <see cref="CheckpointingTelemetry.MeterName"/> meter the manager's instruments belong to;
    /// <see langword="null"/> (the default) uses a process-wide meter of that name.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is invalid.</exception>
    public CheckpointManager(IInputStateStore store, CheckpointManagerOptions options, ILogger<CheckpointManager>? logger = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckpointManagerOptions copy = options.Clone();
        string writerId = copy.WriterId ?? $"{Environment.MachineName}/{Environment.ProcessId}/{ChainContext.RandomHex(4)}";
        _chain = new ChainContext(store, copy, writerId, (ILogger?)logger ?? NullLogger.Instance, timeProvider ?? TimeProvider.System, CheckpointingMetrics.For(meterFactory), this);
        _ownership = new ChainOwnership(_chain);
        _view = new ChainView(_chain, _ownership);
        _committer = new StateFileCommitter(_chain, _view, _ownership);
        _claimer = new ChainClaimer(_chain, _view, _ownership);
        _restorer = new CheckpointRestorer(_chain, _view);
        _retention = new RetentionCollector(_chain, _view);
        _saver = new CheckpointSaver(_chain, _view, _committer, new PartUploader(_chain), _retention);
        _telemetry = new OperationTelemetry(_chain, _view);
    }

    /// <summary>Gets the chain this manager manages.</summary>
    public string Chain => _chain.Chain;

    /// <summary>Gets the key of the chain's state file.</summary>
    public string StateFileKey => _chain.StateFileKey;

    /// <summary>Gets the prefix every manifest and part key of the chain starts with (<c>input.ckpt-</c>).</summary>
    public string ChainPrefix => _chain.Layout.ChainPrefix;

    /// <summary>Gets the id this writer records in what it commits.</summary>
    public string WriterId => _chain.WriterId;

    /// <summary>Gets the store.</summary>
    public IInputStateStore Store => _chain.Store;

    /// <summary>Gets the instruments this manager records to.</summary>
    internal CheckpointingMetrics Metrics => _chain.Metrics;

    /// <summary>Gets whether this writer has lost ownership of the chain; once true, every save throws.</summary>
    public bool IsOwnershipLost => _ownership.IsLost;

    /// <summary>Gets the owner epoch this writer holds (from its claim or its first commit), or <see langword="null"/> before either.</summary>
    public long? OwnerEpoch => _ownership.HeldEpoch;

    /// <summary>Gets the number of commits this manager has made.</summary>
    public long CommitCount => _saver.CommitCount;

    /// <summary>Gets the number of times a restore fell back from a damaged checkpoint to an older one.</summary>
    public long FallbackCount => _restorer.FallbackCount;

    /// <summary>
    /// Claims the chain for this writer, as a writer does when it starts and before it restores. With
    /// <see cref="OwnershipPolicy.TakeOver"/> (the default) the state file is replaced by compare-and-swap with the next
    /// owner epoch and this writer's id, keeping the latest and retained checkpoints (a missing or damaged state file is
    /// rebuilt by listing first); the restore that follows restores exactly what was claimed, and any older writer fails
    /// its next commit. With <see cref="OwnershipPolicy.FirstWriterWins"/> only the state file is read, and the first
    /// save claims the chain if no other writer committed since. Claiming a chain this writer already owns does nothing.
    /// </summary>
    /// <param name="cancellationToken">Cancels the claim; a cancelled claim may or may not have landed, and claiming again is safe.</param>
    /// <returns>A task.</returns>
    /// <exception cref="CheckpointOwnershipLostException">This writer lost the chain earlier.</exception>
    /// <exception cref="CheckpointFormatVersionException">The chain's state file was written by a newer SDK; it is left alone.</exception>
    /// <exception cref="CheckpointConflictException">Other writers kept replacing the state file; nothing was claimed.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request; nothing was claimed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task ClaimAsync(CancellationToken cancellationToken = default) =>
        await ExclusiveAsync(() => _claimer.ClaimAsync(cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Lists the chain's retained checkpoints, newest first: from the state file, or rebuilt from the manifests in the
    /// store when the state file is missing or damaged.
    /// </summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The checkpoints, newest first; empty when the chain has none.</returns>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IReadOnlyList<CheckpointReference>> ListCheckpointsAsync(CancellationToken cancellationToken = default) =>
        await ExclusiveAsync(() => _view.ListAsync(cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>Reads and checks the manifest of <paramref name="checkpoint"/>.</summary>
    /// <param name="checkpoint">A checkpoint of this chain.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="CheckpointCorruptedException">The manifest is missing, damaged or of an unknown format version.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the read.</exception>
    public async Task<CheckpointManifest> ReadManifestAsync(CheckpointReference checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return await _view.ReadManifestAsync(checkpoint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Saves a checkpoint at <paramref name="step"/>: uploads every snapshot as a create-only part, writes the manifest
    /// create-only, commits it by a compare-and-swap of the state file, then applies retention and, every
    /// <see cref="CheckpointManagerOptions.OrphanCollectionInterval"/> commits, collects orphans.
    /// </summary>
    /// <param name="step">The global step the snapshots were captured at; zero or more.</param>
    /// <param name="snapshots">The snapshots, by checkpointable name. The manager disposes them.</param>
    /// <param name="cancellationToken">Cancels the save; a cancelled save leaves the previous checkpoint the latest.</param>
    /// <returns>The committed checkpoint.</returns>
    /// <exception cref="ArgumentException">A name is invalid or repeated, or <paramref name="step"/> is negative.</exception>
    /// <exception cref="CheckpointOwnershipLostException">Another writer owns the chain now: it claimed the chain since this writer's claim or commit, or committed first.</exception>
    /// <exception cref="CheckpointConflictException">The state file kept changing under the commit without a change of owner; nothing was committed.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a write; nothing was committed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<CheckpointReference> SaveAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointSnapshot>> snapshots, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        try
        {
            ArgumentOutOfRangeException.ThrowIfNegative(step);
            ChainContext.ValidateNames(snapshots.Select(s => s.Key));
            CheckpointReference committed;
            try
            {
                committed = await ExclusiveAsync(
                    () => _telemetry.ObserveSaveAsync(step, snapshots.Count, () => _saver.SaveAsync(step, snapshots, cancellationToken), cancellationToken),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                OnSaveFailed(step, ex, cancellationToken); // after the lock is released, so handlers may call the manager
                throw;
            }

            OnCommitted(committed);
            return committed;
        }
        finally
        {
            foreach (KeyValuePair<string, ICheckpointSnapshot> snapshot in snapshots)
            {
                snapshot.Value?.Dispose();
            }
        }
    }

    /// <summary>
    /// Restores <paramref name="targets"/> from the latest retained checkpoint (its manifest from the state file's copy;
    /// right after <see cref="ClaimAsync"/>, exactly what was claimed), falling back to older ones when a checkpoint
    /// proves damaged (missing or truncated part, checksum mismatch, unparseable manifest).
    /// </summary>
    /// <param name="targets">The checkpointables to restore, by name; they must be exactly those the checkpoint holds.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>The checkpoint restored, or <see langword="null"/> when the chain has no checkpoint.</returns>
    /// <exception cref="CheckpointCorruptedException">Every retained checkpoint is damaged; the inner exception lists why.</exception>
    /// <exception cref="CheckpointMismatchException">The checkpoint holds other checkpointables than <paramref name="targets"/>.</exception>
    /// <exception cref="PipelineAlreadyStartedException">A target has already produced elements.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    public async Task<CheckpointReference?> RestoreLatestAsync(IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ChainContext.ValidateNames(targets.Select(t => t.Key));
        return await ExclusiveAsync(
            () => _telemetry.ObserveRestoreAsync(null, stats => _restorer.RestoreLatestAsync(targets, stats, cancellationToken), cancellationToken),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Restores <paramref name="targets"/> from the checkpoint taken at exactly <paramref name="step"/>, for example to
    /// match a model checkpoint taken at that step. There is no fallback to another step.
    /// </summary>
    /// <param name="step">The step.</param>
    /// <param name="targets">The checkpointables to restore, by name.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>The checkpoint restored.</returns>
    /// <exception cref="CheckpointNotFoundException">No retained checkpoint was taken at <paramref name="step"/>; the message lists the retained steps.</exception>
    /// <exception cref="CheckpointCorruptedException">The checkpoint at <paramref name="step"/> is damaged.</exception>
    /// <exception cref="CheckpointMismatchException">The checkpoint holds other checkpointables than <paramref name="targets"/>.</exception>
    /// <exception cref="PipelineAlreadyStartedException">A target has already produced elements.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    public async Task<CheckpointReference> RestoreAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ChainContext.ValidateNames(targets.Select(t => t.Key));
        CheckpointReference? restored = await ExclusiveAsync(
            () => _telemetry.ObserveRestoreAsync(step, async stats => await _restorer.RestoreAtStepAsync(step, targets, stats, cancellationToken).ConfigureAwait(false), cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return restored!;
    }

    /// <summary>
    /// Applies retention now, as a save would: commits the chain's <paramref name="keepMax"/> newest checkpoints as the
    /// retained list by a compare-and-swap of the state file, then deletes the others, each manifest before its parts.
    /// A manager that does not own the chain (as <c>ckpt prune</c>'s) keeps the owner's epoch, so the job writing the
    /// chain goes on; a commit of that job meanwhile is re-read and the prune re-applied on top.
    /// </summary>
    /// <param name="keepMax">How many of the newest checkpoints to keep; at least 1.</param>
    /// <param name="dryRun">When <see langword="true"/>, only reports what would be dropped.</param>
    /// <param name="cancellationToken">Cancels the prune.</param>
    /// <returns>The checkpoints dropped (or that would be), newest first.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="keepMax"/> is less than 1.</exception>
    /// <exception cref="CheckpointOwnershipLostException">Another writer took the chain over meanwhile; nothing was dropped.</exception>
    /// <exception cref="CheckpointConflictException">The state file kept changing under the prune; nothing was dropped.</exception>
    /// <exception cref="CheckpointFormatVersionException">The chain's state file was written by a newer SDK.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request.</exception>
    public async Task<IReadOnlyList<CheckpointReference>> PruneAsync(int keepMax, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepMax, 1);
        return await ExclusiveAsync(() => _retention.PruneAsync(keepMax, dryRun, _committer, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a checkpoint part for reading in <paramref name="store"/>, checked against its manifest entry: a missing
    /// part or a wrong length fails at once, and a wrong checksum fails the read that reaches the end. Tools that copy
    /// or inspect checkpoints use it rather than a second implementation of the checks.
    /// </summary>
    /// <param name="store">The store holding the part.</param>
    /// <param name="part">The part, as its manifest records it.</param>
    /// <param name="cancellationToken">Cancels opening the part.</param>
    /// <returns>A read-only stream of the part's bytes; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="part"/> is null.</exception>
    /// <exception cref="CheckpointCorruptedException">The part is missing, of another length, or has an unsupported checksum (from the open); or its bytes do not match the checksum (from the last read).</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the read.</exception>
    public static async Task<Stream> OpenVerifiedPartAsync(IInputStateStore store, CheckpointPartInfo part, CancellationToken cancellationToken = default) =>
        await CheckpointRestorer.OpenPartAsync(store, part, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Re-reads the manifest object of <paramref name="checkpoint"/> (which must agree with the copy the state file
    /// carries of the latest) and every part, checking lengths and checksums, without restoring anything.
    /// </summary>
    /// <param name="checkpoint">A checkpoint of this chain.</param>
    /// <param name="cancellationToken">Cancels the verification.</param>
    /// <returns>The verified manifest.</returns>
    /// <exception cref="CheckpointCorruptedException">The manifest or a part is missing or damaged; the message names it.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    public async Task<CheckpointManifest> VerifyAsync(CheckpointReference checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return await _restorer.VerifyAsync(checkpoint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the chain's objects that no retained checkpoint references and that are older than the grace period:
    /// the leftovers of saves that crashed before their commit, or of retention deletes that failed.
    /// </summary>
    /// <param name="dryRun">When <see langword="true"/>, only reports what would be deleted.</param>
    /// <param name="cancellationToken">Cancels the collection.</param>
    /// <returns>The keys deleted (or that would be).</returns>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request.</exception>
    public async Task<IReadOnlyList<string>> CollectOrphansAsync(bool dryRun = false, CancellationToken cancellationToken = default) =>
        await ExclusiveAsync(() => _retention.CollectOrphansOfCurrentViewAsync(dryRun, cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>Releases the manager; the age of its latest checkpoint is no longer reported.</summary>
    public void Dispose()
    {
        _chain.Metrics.ForgetLatest(this);
        _gate.Dispose();
    }

    /// <summary>Runs <paramref name="operation"/> alone: the manager's operations run one at a time.</summary>
    private async Task<T> ExclusiveAsync<T>(Func<Task<T>> operation, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await operation().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ExclusiveAsync(Func<Task> operation, CancellationToken cancellationToken) =>
        await ExclusiveAsync(async () => { await operation().ConfigureAwait(false); return true; }, cancellationToken).ConfigureAwait(false);
}
