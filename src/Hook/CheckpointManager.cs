using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using InputPipeline.Checkpointing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing;

/// <summary>
/// Saves, commits, retains and restores the checkpoints of one chain in an <see cref="IInputStateStore"/>, with the
/// commit protocol of the design: create-only parts, then a create-only manifest, then a compare-and-swap of the
/// chain's state file; retention deletes a dropped manifest before its parts; restore verifies lengths and checksums
/// and falls back to the previous retained checkpoint.
/// </summary>
/// <remarks>
/// <para>
/// A crash at any instant leaves the previously committed checkpoint intact and readable. A writer whose swap of the
/// state file fails has lost ownership of the chain (another job, or a zombie of a reclaimed VM, committed since):
/// it throws <see cref="CheckpointOwnershipLostException"/> and refuses every later save.
/// </para>
/// <para>The methods are safe to call from several threads; they run one at a time.</para>
/// <para>
/// Telemetry (see <see cref="CheckpointingTelemetry"/>): saves and restores are measured (duration, bytes, commits,
/// failures, fallbacks) on the <see cref="CheckpointingTelemetry.MeterName"/> meter and traced as activities
/// (<see cref="CheckpointingActivityNames.Save"/>, <see cref="CheckpointingActivityNames.Commit"/>,
/// <see cref="CheckpointingActivityNames.Restore"/>); a live manager reports the age of the latest checkpoint it knows of
/// on <see cref="CheckpointingInstrumentNames.Age"/> until it is disposed.
/// </para>
/// </remarks>
public sealed partial class CheckpointManager : IDisposable
{
    private const string ManifestSuffix = ".manifest";
    private const string PartSuffix = ".part";
    private const int PipePauseThreshold = 4 * 1024 * 1024;

    /// <summary>Parts up to this size are hashed on the saving thread; larger ones on another thread, during the upload.</summary>
    private const int InlineHashLimit = 1024 * 1024;

    private readonly IInputStateStore _store;
    private readonly CheckpointManagerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CheckpointingMetrics _metrics;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, CheckpointManifest> _manifestCache = new(StringComparer.Ordinal);
    private readonly HashSet<string> _ownManifests = new(StringComparer.Ordinal);
    private readonly HashSet<string> _newerFormatPrefixes = new(StringComparer.Ordinal);
    private CheckpointFormatVersionException? _newerStateFile;

    private bool _viewLoaded;
    private bool _resyncNeeded;
    private StoreVersion? _stateVersion;
    private List<CheckpointReference> _view = [];
    private int _commitsSinceCollection;
    private bool _collectedOnce;
    private volatile bool _ownershipLost;
    private long _commitCount;
    private long _fallbackCount;

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
        _store = store;
        _options = options.Clone();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _metrics = CheckpointingMetrics.For(meterFactory);
        WriterId = _options.WriterId ?? $"{Environment.MachineName}/{Environment.ProcessId}/{RandomHex(4)}";
        StateFileKey = _options.StateFileKey ?? "checkpoint_" + _options.Chain;
        ChainPrefix = _options.Chain + ".ckpt-";
    }

    /// <summary>Gets the chain this manager manages.</summary>
    public string Chain => _options.Chain;

    /// <summary>Gets the key of the chain's state file.</summary>
    public string StateFileKey { get; }

    /// <summary>Gets the prefix every manifest and part key of the chain starts with (<c>input.ckpt-</c>).</summary>
    public string ChainPrefix { get; }

    /// <summary>Gets the id this writer records in what it commits.</summary>
    public string WriterId { get; }

    /// <summary>Gets the store.</summary>
    public IInputStateStore Store => _store;

    /// <summary>Gets the instruments this manager records to.</summary>
    internal CheckpointingMetrics Metrics => _metrics;

    /// <summary>Gets whether this writer has lost ownership of the chain; once true, every save throws.</summary>
    public bool IsOwnershipLost => _ownershipLost;

    /// <summary>Gets the number of commits this manager has made.</summary>
    public long CommitCount => Interlocked.Read(ref _commitCount);

    /// <summary>Gets the number of times a restore fell back from a damaged checkpoint to an older one.</summary>
    public long FallbackCount => Interlocked.Read(ref _fallbackCount);

    /// <summary>
    /// Lists the chain's retained checkpoints, newest first: from the state file, or rebuilt from the manifests in the
    /// store when the state file is missing or damaged.
    /// </summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The checkpoints, newest first; empty when the chain has none.</returns>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IReadOnlyList<CheckpointReference>> ListCheckpointsAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadViewAsync(cancellationToken).ConfigureAwait(false);
            return [.. _view];
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reads and checks the manifest of <paramref name="checkpoint"/>.</summary>
    /// <param name="checkpoint">A checkpoint of this chain.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="CheckpointCorruptedException">The manifest is missing, damaged or of an unknown format version.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused the read.</exception>
    public async Task<CheckpointManifest> ReadManifestAsync(CheckpointReference checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        CheckpointManifest manifest = await ReadManifestAsync(checkpoint.ManifestKey, cancellationToken).ConfigureAwait(false);
        if (manifest.Step != checkpoint.Step)
        {
            throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest records step {manifest.Step}, the state file step {checkpoint.Step}.");
        }

        return manifest;
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
    /// <exception cref="CheckpointOwnershipLostException">Another writer committed to the chain since this one did.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a write; nothing was committed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<CheckpointReference> SaveAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointSnapshot>> snapshots, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        try
        {
            ArgumentOutOfRangeException.ThrowIfNegative(step);
            ValidateNames(snapshots.Select(s => s.Key));
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            CheckpointReference committed;
            try
            {
                committed = await SaveObservedAsync(step, snapshots, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _gate.Release(); // handlers run outside the lock, so they may call the manager
                OnSaveFailed(step, ex, cancellationToken);
                throw;
            }

            _gate.Release();
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
    /// Restores <paramref name="targets"/> from the latest retained checkpoint, falling back to older ones when a
    /// checkpoint proves damaged (missing or truncated part, checksum mismatch, unparseable manifest).
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
        ValidateNames(targets.Select(t => t.Key));
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RestoreObservedAsync(
                requestedStep: null,
                async stats =>
                {
                    await LoadViewAsync(cancellationToken).ConfigureAwait(false);
                    if (_view.Count == 0)
                    {
                        return null;
                    }

                    return await RestoreFirstSoundAsync(_view, targets, $"none of the {_view.Count} retained checkpoints could be restored", stats, cancellationToken).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
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
        ValidateNames(targets.Select(t => t.Key));
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CheckpointReference? restored = await RestoreObservedAsync(
                step,
                async stats =>
                {
                    await LoadViewAsync(cancellationToken).ConfigureAwait(false);
                    List<CheckpointReference> atStep = _view.Where(r => r.Step == step).ToList();
                    if (atStep.Count == 0)
                    {
                        string retained = _view.Count == 0 ? "none" : string.Join(", ", _view.Select(r => r.Step.ToString(CultureInfo.InvariantCulture)));
                        throw new CheckpointNotFoundException(Chain, $"no retained checkpoint was taken at step {step} (retained steps: {retained}).");
                    }

                    return await RestoreFirstSoundAsync(atStep, targets, $"the checkpoint at step {step} could not be restored", stats, cancellationToken).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
            return restored!;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Applies retention now, as a save would: commits the chain's <paramref name="keepMax"/> newest checkpoints as the
    /// retained list by a compare-and-swap of the state file, then deletes the others, each manifest before its parts.
    /// </summary>
    /// <param name="keepMax">How many of the newest checkpoints to keep; at least 1.</param>
    /// <param name="dryRun">When <see langword="true"/>, only reports what would be dropped.</param>
    /// <param name="cancellationToken">Cancels the prune.</param>
    /// <returns>The checkpoints dropped (or that would be), newest first.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="keepMax"/> is less than 1.</exception>
    /// <exception cref="CheckpointOwnershipLostException">Another writer committed to the chain meanwhile; nothing was dropped.</exception>
    /// <exception cref="CheckpointFormatVersionException">The chain's state file was written by a newer SDK.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request.</exception>
    public async Task<IReadOnlyList<CheckpointReference>> PruneAsync(int keepMax, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepMax, 1);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfOwnershipLost();
            if (!_viewLoaded)
            {
                await LoadViewAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (_resyncNeeded)
            {
                await ResyncAsync(cancellationToken).ConfigureAwait(false);
            }

            ThrowIfNewerFormat();
            List<CheckpointReference> retained = [.. _view.Take(keepMax)];
            List<CheckpointReference> dropped = [.. _view.Skip(keepMax)];
            if (dryRun || dropped.Count == 0)
            {
                return dropped;
            }

            await CommitAsync(retained, retained[0].ManifestKey, cancellationToken).ConfigureAwait(false);
            foreach (CheckpointReference old in dropped)
            {
                await DeleteCheckpointAsync(old, cancellationToken).ConfigureAwait(false);
            }

            return dropped;
        }
        finally
        {
            _gate.Release();
        }
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
        await OpenPartAsync(store, part, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Re-reads every part of <paramref name="checkpoint"/> and checks its length and checksum against the manifest,
    /// without restoring anything.
    /// </summary>
    /// <param name="checkpoint">A checkpoint of this chain.</param>
    /// <param name="cancellationToken">Cancels the verification.</param>
    /// <returns>The verified manifest.</returns>
    /// <exception cref="CheckpointCorruptedException">The manifest or a part is missing or damaged; the message names it.</exception>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a read.</exception>
    public async Task<CheckpointManifest> VerifyAsync(CheckpointReference checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        CheckpointManifest manifest = await ReadManifestAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        foreach (CheckpointPartInfo part in manifest.Parts)
        {
            VerifyingReadStream verifying = await OpenPartAsync(_store, part, cancellationToken).ConfigureAwait(false);
            await using (verifying.ConfigureAwait(false))
            {
                try
                {
                    await verifying.DrainAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _metrics.AddBytesRead(verifying.Position, Chain, _store.ProviderName);
                }
            }
        }

        return manifest;
    }

    /// <summary>
    /// Deletes the chain's objects that no retained checkpoint references and that are older than the grace period:
    /// the leftovers of saves that crashed before their commit, or of retention deletes that failed.
    /// </summary>
    /// <param name="dryRun">When <see langword="true"/>, only reports what would be deleted.</param>
    /// <param name="cancellationToken">Cancels the collection.</param>
    /// <returns>The keys deleted (or that would be).</returns>
    /// <exception cref="CheckpointStoreException">The store is unreachable or refused a request.</exception>
    public async Task<IReadOnlyList<string>> CollectOrphansAsync(bool dryRun = false, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadViewAsync(cancellationToken).ConfigureAwait(false);
            return await CollectOrphansCoreAsync(dryRun, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Releases the manager; the age of its latest checkpoint is no longer reported.</summary>
    public void Dispose()
    {
        _metrics.ForgetLatest(this);
        _gate.Dispose();
    }

    /// <summary>Returns the save prefix (<c>input.ckpt-120.3fa2…</c>) that a manifest key and its parts' keys start with.</summary>
    internal static string SavePrefixOf(string manifestKey) =>
        manifestKey.EndsWith(ManifestSuffix, StringComparison.Ordinal) ? manifestKey[..^ManifestSuffix.Length] : manifestKey;

    private async Task<CheckpointReference> SaveObservedAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointSnapshot>> snapshots, CancellationToken cancellationToken)
    {
        using Activity? activity = CheckpointingMetrics.StartActivity(CheckpointingActivityNames.Save, Chain, _store.ProviderName);
        activity?.SetTag(CheckpointingTagNames.Step, step);
        long started = _time.GetTimestamp();
        Log.SaveStarted(_logger, Chain, step, snapshots.Count);
        try
        {
            CheckpointReference reference = await SaveCoreAsync(step, snapshots, cancellationToken).ConfigureAwait(false);
            TimeSpan elapsed = _time.GetElapsedTime(started);
            _metrics.RecordSave(elapsed, Chain, _store.ProviderName, failure: null, cancelled: false);
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag(CheckpointingTagNames.ManifestKey, reference.ManifestKey);
                activity.SetTag(CheckpointingTagNames.Outcome, CheckpointingTagValues.Success);
            }

            if (_logger.IsEnabled(LogLevel.Debug))
            {
                long bytes = _manifestCache.TryGetValue(reference.ManifestKey, out CheckpointManifest? manifest) ? manifest.TotalLength : 0;
                Log.SaveCompleted(_logger, Chain, step, reference.ManifestKey, elapsed.TotalSeconds, bytes);
            }

            return reference;
        }
        catch (Exception ex)
        {
            TimeSpan elapsed = _time.GetElapsedTime(started);
            bool cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            _metrics.RecordSave(elapsed, Chain, _store.ProviderName, ex, cancelled);
            CheckpointingMetrics.SetFailure(activity, ex, cancelled);
            Log.SaveAbandoned(_logger, Chain, step, elapsed.TotalSeconds, ex);
            throw;
        }
    }

    private async Task<CheckpointReference?> RestoreObservedAsync(long? requestedStep, Func<RestoreStats, Task<CheckpointReference?>> restore, CancellationToken cancellationToken)
    {
        using Activity? activity = CheckpointingMetrics.StartActivity(CheckpointingActivityNames.Restore, Chain, _store.ProviderName);
        if (requestedStep is { } requested)
        {
            activity?.SetTag(CheckpointingTagNames.RequestedStep, requested);
        }

        string target = requestedStep is { } at ? string.Create(CultureInfo.InvariantCulture, $"step {at}") : "latest";
        Log.RestoreStarted(_logger, Chain, target);
        var stats = new RestoreStats { Activity = activity };
        long started = _time.GetTimestamp();
        try
        {
            CheckpointReference? restored = await restore(stats).ConfigureAwait(false);
            TimeSpan elapsed = _time.GetElapsedTime(started);
            string outcome = restored is null ? CheckpointingTagValues.Empty : CheckpointingTagValues.Success;
            _metrics.RecordRestore(elapsed, Chain, _store.ProviderName, outcome, failure: null);
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag(CheckpointingTagNames.Outcome, outcome);
                activity.SetTag(CheckpointingTagNames.Fallbacks, stats.Fallbacks);
                if (restored is not null)
                {
                    activity.SetTag(CheckpointingTagNames.Step, restored.Step);
                    activity.SetTag(CheckpointingTagNames.ManifestKey, restored.ManifestKey);
                }
            }

            if (restored is null)
            {
                Log.NothingToRestore(_logger, Chain, StateFileKey);
            }
            else
            {
                Log.RestoreCompleted(_logger, Chain, restored.Step, elapsed.TotalSeconds, stats.Bytes, stats.Fallbacks);
            }

            return restored;
        }
        catch (Exception ex)
        {
            TimeSpan elapsed = _time.GetElapsedTime(started);
            bool cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            _metrics.RecordRestore(elapsed, Chain, _store.ProviderName, cancelled ? CheckpointingTagValues.Cancelled : CheckpointingTagValues.Failure, ex);
            activity?.SetTag(CheckpointingTagNames.Fallbacks, stats.Fallbacks);
            CheckpointingMetrics.SetFailure(activity, ex, cancelled);
            if (!cancelled)
            {
                Log.RestoreFailed(_logger, Chain, target, elapsed.TotalSeconds, ex);
            }

            throw;
        }
    }

    private void TrackLatest()
    {
        if (_view.Count > 0 && !_ownershipLost)
        {
            _metrics.TrackLatest(this, Chain, _store.ProviderName, _time, _view[0].CreatedAt);
        }
    }

    private async Task<CheckpointReference> SaveCoreAsync(long step, IReadOnlyList<KeyValuePair<string, ICheckpointSnapshot>> snapshots, CancellationToken cancellationToken)
    {
        ThrowIfOwnershipLost();
        if (!_viewLoaded)
        {
            await LoadViewAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (_resyncNeeded)
        {
            await ResyncAsync(cancellationToken).ConfigureAwait(false);
        }

        ThrowIfNewerFormat();

        DateTimeOffset createdAt = _time.GetUtcNow();
        string saveId = RandomHex(6);
        string savePrefix = string.Create(CultureInfo.InvariantCulture, $"{ChainPrefix}{step}.{saveId}");
        var parts = new List<CheckpointPartInfo>(snapshots.Count);
        foreach (KeyValuePair<string, ICheckpointSnapshot> snapshot in snapshots)
        {
            string key = $"{savePrefix}.{snapshot.Key}{PartSuffix}";
            (long length, string checksum) = await UploadPartAsync(key, snapshot.Value, cancellationToken).ConfigureAwait(false);
            _metrics.AddBytesWritten(length, Chain, _store.ProviderName);
            parts.Add(new CheckpointPartInfo { Name = snapshot.Key, Key = key, Length = length, Checksum = checksum });
        }

        var manifest = new CheckpointManifest
        {
            Chain = Chain,
            Step = step,
            CreatedAt = createdAt,
            WriterId = WriterId,
            SaveId = saveId,
            Parts = parts,
        };
        string manifestKey = savePrefix + ManifestSuffix;
        using (var manifestContent = new MemoryStream(manifest.ToUtf8Json(), writable: false))
        {
            await _store.WriteAsync(manifestKey, manifestContent, WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false);
        }

        _ownManifests.Add(manifestKey);
        _manifestCache[manifestKey] = manifest;

        var reference = new CheckpointReference { Step = step, ManifestKey = manifestKey, CreatedAt = createdAt };
        List<CheckpointReference> candidates = [reference, .. _view.Where(r => r.Step != step && r.ManifestKey != manifestKey)];
        List<CheckpointReference> retained = candidates.Take(_options.KeepMax).ToList();
        List<CheckpointReference> dropped = [.. _view.Where(r => !retained.Contains(r))];

        using (Activity? commit = CheckpointingMetrics.StartActivity(CheckpointingActivityNames.Commit, Chain, _store.ProviderName))
        {
            if (commit is { IsAllDataRequested: true })
            {
                commit.SetTag(CheckpointingTagNames.Step, step);
                commit.SetTag(CheckpointingTagNames.ManifestKey, manifestKey);
            }

            try
            {
                await CommitAsync(retained, manifestKey, cancellationToken).ConfigureAwait(false);
                CheckpointingMetrics.SetOutcome(commit, CheckpointingTagValues.Success);
            }
            catch (Exception ex)
            {
                CheckpointingMetrics.SetFailure(commit, ex, ex is OperationCanceledException && cancellationToken.IsCancellationRequested);
                throw;
            }
        }

        Interlocked.Increment(ref _commitCount);
        _metrics.AddCommit(Chain, _store.ProviderName);
        TrackLatest();
        Log.Committed(_logger, Chain, step, manifestKey, parts.Count, manifest.TotalLength);

        foreach (CheckpointReference old in dropped)
        {
            await DeleteCheckpointAsync(old, cancellationToken).ConfigureAwait(false);
        }

        _commitsSinceCollection++;
        if (!_collectedOnce || _commitsSinceCollection >= _options.OrphanCollectionInterval)
        {
            try
            {
                await CollectOrphansCoreAsync(dryRun: false, cancellationToken).ConfigureAwait(false);
                _collectedOnce = true;
                _commitsSinceCollection = 0;
            }
            catch (Exception ex) when (ex is CheckpointException or IOException)
            {
                Log.OrphanCollectionFailed(_logger, Chain, ex);
            }
        }

        return reference;
    }

    private async Task CommitAsync(List<CheckpointReference> retained, string manifestKey, CancellationToken cancellationToken)
    {
        var state = new CheckpointStateFile
        {
            Chain = Chain,
            WriterId = WriterId,
            UpdatedAt = _time.GetUtcNow(),
            Checkpoints = retained,
        };
        WriteCondition condition = _stateVersion is { } version ? WriteCondition.IfVersionMatches(version) : WriteCondition.IfAbsent;
        try
        {
            using var content = new MemoryStream(state.ToUtf8Json(), writable: false);
            _stateVersion = await _store.WriteAsync(StateFileKey, content, condition, cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointConflictException conflict)
        {
            // A provider's own retry of a write that did land also answers with a conflict: check before giving up.
            if (await TryConfirmCommitAsync(manifestKey, cancellationToken).ConfigureAwait(false))
            {
                _view = retained;
                return;
            }

            _ownershipLost = true;
            _metrics.ForgetLatest(this);
            Log.OwnershipLost(_logger, Chain, StateFileKey);
            throw new CheckpointOwnershipLostException(Chain, StateFileKey, conflict);
        }
        catch (Exception ex) when (ex is CheckpointStoreException or OperationCanceledException)
        {
            // The write may or may not have landed (a lost response); find out now or at the next save.
            if (ex is CheckpointStoreException && await TryConfirmCommitAsync(manifestKey, CancellationToken.None).ConfigureAwait(false))
            {
                _view = retained;
                return;
            }

            _resyncNeeded = true;
            Log.CommitFailed(_logger, Chain, manifestKey, ex);
            throw;
        }

        _view = retained;
    }

    private async Task<bool> TryConfirmCommitAsync(string manifestKey, CancellationToken cancellationToken)
    {
        try
        {
            (CheckpointStateFile? state, StoreVersion? version, _) = await ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
            if (state is not null && version is not null && state.WriterId == WriterId && state.Latest?.ManifestKey == manifestKey)
            {
                _stateVersion = version;
                _resyncNeeded = false;
                Log.CommitConfirmed(_logger, Chain);
                return true;
            }
        }
        catch (Exception ex) when (ex is CheckpointException or IOException)
        {
            // The confirmation read failed as well; the caller treats the commit as not confirmed.
        }

        return false;
    }

    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        (CheckpointStateFile? state, StoreVersion? version, _) = await ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        if (version == _stateVersion)
        {
            _resyncNeeded = false;
            return;
        }

        if (state is not null && version is not null && state.WriterId == WriterId && state.Latest is { } latest && _ownManifests.Contains(latest.ManifestKey))
        {
            _stateVersion = version;
            _view = [.. state.Checkpoints];
            TrackLatest();
            _resyncNeeded = false;
            Log.CommitConfirmed(_logger, Chain);
            return;
        }

        _ownershipLost = true;
        _metrics.ForgetLatest(this);
        Log.OwnershipLost(_logger, Chain, StateFileKey);
        throw new CheckpointOwnershipLostException(Chain, StateFileKey);
    }

    private async Task<(long Length, string Checksum)> UploadPartAsync(string key, ICheckpointSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (snapshot is IBufferedCheckpointSnapshot buffered && MemoryMarshal.TryGetArray(buffered.Buffer, out ArraySegment<byte> segment))
        {
            return await UploadBufferedPartAsync(key, segment, cancellationToken).ConfigureAwait(false);
        }

        var pipe = new Pipe(new PipeOptions(
            pauseWriterThreshold: PipePauseThreshold,
            resumeWriterThreshold: PipePauseThreshold / 2,
            minimumSegmentSize: 64 * 1024,
            useSynchronizationContext: false));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var hashing = new HashingWriteStream(pipe.Writer.AsStream(leaveOpen: true));

        Task produce = Task.Run(
            async () =>
            {
                try
                {
                    await snapshot.WriteToAsync(hashing, linked.Token).ConfigureAwait(false);
                    await hashing.FlushAsync(linked.Token).ConfigureAwait(false);
                    await pipe.Writer.CompleteAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    await pipe.Writer.CompleteAsync(ex).ConfigureAwait(false);
                    throw;
                }
            },
            CancellationToken.None);

        Stream content = pipe.Reader.AsStream(leaveOpen: true);
        try
        {
            await _store.WriteAsync(key, content, WriteCondition.IfAbsent, linked.Token).ConfigureAwait(false);
        }
        catch (Exception storeFailure)
        {
            await linked.CancelAsync().ConfigureAwait(false);
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            Exception? snapshotFailure = await CompletionOf(produce).ConfigureAwait(false);
            if (snapshotFailure is not null and not OperationCanceledException)
            {
                // The snapshot failed first and the store only saw a broken stream: the snapshot's failure is the cause.
                throw new CheckpointSaveException(key, snapshotFailure);
            }

            if (storeFailure is CheckpointException or OperationCanceledException)
            {
                throw;
            }

            throw new CheckpointStoreException(_store.ProviderName, key, $"the write failed: {storeFailure.Message}", storeFailure);
        }
        finally
        {
            await content.DisposeAsync().ConfigureAwait(false);
        }

        // A store that stopped reading early must not leave the snapshot blocked on a full pipe; the length recorded
        // below then differs from the stored one, which restore reports as a truncated part.
        await pipe.Reader.CompleteAsync().ConfigureAwait(false);
        Exception? failure = await CompletionOf(produce).ConfigureAwait(false);
        if (failure is not null)
        {
            throw failure is OperationCanceledException ? failure : new CheckpointSaveException(key, failure);
        }

        return (hashing.BytesWritten, hashing.Checksum);
    }

    /// <summary>
    /// Uploads a part that is already in memory: the store reads it as a seekable stream of known length (no copy
    /// through a pipe, one request where the store allows it, retries possible), while another thread hashes it.
    /// </summary>
    private async Task<(long Length, string Checksum)> UploadBufferedPartAsync(string key, ArraySegment<byte> bytes, CancellationToken cancellationToken)
    {
        // A small part is hashed here and now (microseconds); a large one on another thread, while the store uploads it.
        Task<string> hashing = bytes.Count <= InlineHashLimit
            ? Task.FromResult(PartChecksum.Compute(bytes))
            : Task.Run(() => PartChecksum.Compute(bytes), CancellationToken.None);
        var content = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
        try
        {
            await _store.WriteAsync(key, content, WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception storeFailure) when (storeFailure is not (CheckpointException or OperationCanceledException))
        {
            throw new CheckpointStoreException(_store.ProviderName, key, $"the write failed: {storeFailure.Message}", storeFailure);
        }
        finally
        {
            await content.DisposeAsync().ConfigureAwait(false);
            await CompletionOf(hashing).ConfigureAwait(false);
        }

        return (bytes.Count, await hashing.ConfigureAwait(false));
    }

    private static async Task<Exception?> CompletionOf(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private async Task<CheckpointReference> RestoreFirstSoundAsync(List<CheckpointReference> candidates, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, string failureSummary, RestoreStats stats, CancellationToken cancellationToken)
    {
        var failures = new List<Exception>();
        for (int i = 0; i < candidates.Count; i++)
        {
            CheckpointReference candidate = candidates[i];
            try
            {
                await RestoreFromAsync(candidate, targets, stats, cancellationToken).ConfigureAwait(false);
                Log.Restored(_logger, Chain, candidate.Step, candidate.ManifestKey);
                return candidate;
            }
            catch (CheckpointCorruptedException ex)
            {
                failures.Add(ex);
                if (i + 1 < candidates.Count)
                {
                    // Only a failure followed by another candidate is a fallback.
                    Interlocked.Increment(ref _fallbackCount);
                    stats.Fallbacks++;
                    _metrics.AddFallback(Chain, _store.ProviderName);
                    if (stats.Activity is { IsAllDataRequested: true } activity)
                    {
                        activity.AddEvent(new ActivityEvent(
                            CheckpointingActivityNames.FallbackEvent,
                            tags: new ActivityTagsCollection
                            {
                                [CheckpointingTagNames.Step] = candidate.Step,
                                [CheckpointingTagNames.ManifestKey] = candidate.ManifestKey,
                                [CheckpointingTagNames.ErrorType] = CheckpointingMetrics.ErrorType(ex),
                            }));
                    }

                    Log.FallingBack(_logger, Chain, candidate.Step, candidate.ManifestKey, ex);
                }
            }
        }

        throw new CheckpointCorruptedException(
            StateFileKey,
            $"{failureSummary}: {string.Join(" | ", failures.Select(f => f.Message))}",
            new AggregateException(failures));
    }

    private async Task RestoreFromAsync(CheckpointReference checkpoint, IReadOnlyList<KeyValuePair<string, ICheckpointable>> targets, RestoreStats stats, CancellationToken cancellationToken)
    {
        CheckpointManifest manifest = await ReadManifestAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(manifest.Chain, Chain, StringComparison.Ordinal))
        {
            throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest belongs to chain \"{manifest.Chain}\", not \"{Chain}\".");
        }

        var partsByName = new Dictionary<string, CheckpointPartInfo>(StringComparer.Ordinal);
        foreach (CheckpointPartInfo part in manifest.Parts)
        {
            if (!partsByName.TryAdd(part.Name, part))
            {
                throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"the manifest lists part \"{part.Name}\" twice.");
            }

            if (!PartChecksum.IsSupported(part.Checksum))
            {
                throw new CheckpointCorruptedException(checkpoint.ManifestKey, $"part \"{part.Name}\" has an unsupported checksum \"{part.Checksum}\".");
            }
        }

        string[] missing = [.. targets.Select(t => t.Key).Where(name => !partsByName.ContainsKey(name))];
        string[] extra = [.. partsByName.Keys.Where(name => !targets.Any(t => t.Key == name))];
        if (missing.Length > 0 || extra.Length > 0)
        {
            throw new CheckpointMismatchException(
                checkpoint.ManifestKey,
                $"registered but not in the checkpoint: [{string.Join(", ", missing)}]; in the checkpoint but not registered: [{string.Join(", ", extra)}]. Register the same iterators, under the same names, as the job that saved it.");
        }

        foreach (KeyValuePair<string, ICheckpointable> target in targets)
        {
            VerifyingReadStream verifying = await OpenPartAsync(_store, partsByName[target.Key], cancellationToken).ConfigureAwait(false);
            await using (verifying.ConfigureAwait(false))
            {
                try
                {
                    try
                    {
                        await target.Value.RestoreStateAsync(verifying, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException and not CheckpointException)
                    {
                        // The target could not parse its bytes. If the bytes are damaged, that is the real cause (and a reason
                        // to fall back); if they are intact, the target's error stands.
                        await verifying.DrainAsync(cancellationToken).ConfigureAwait(false);
                        throw;
                    }

                    await verifying.DrainAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    stats.Bytes += verifying.Position;
                    _metrics.AddBytesRead(verifying.Position, Chain, _store.ProviderName);
                }
            }
        }
    }

    private static async Task<VerifyingReadStream> OpenPartAsync(IInputStateStore store, CheckpointPartInfo part, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(part);
        if (!PartChecksum.IsSupported(part.Checksum))
        {
            throw new CheckpointCorruptedException(part.Key, $"unsupported checksum \"{part.Checksum}\".");
        }

        StoreReadResult read = await store.ReadAsync(part.Key, 0, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointCorruptedException(part.Key, "the part is missing from the store.");
        if (read.Info.Length != part.Length)
        {
            await read.DisposeAsync().ConfigureAwait(false);
            throw new CheckpointCorruptedException(part.Key, $"the part holds {read.Info.Length} bytes, its manifest records {part.Length}.");
        }

        return new VerifyingReadStream(read.Content, part.Key, part.Length, part.Checksum);
    }

    private async Task<CheckpointManifest> ReadManifestAsync(string manifestKey, CancellationToken cancellationToken)
    {
        if (_manifestCache.TryGetValue(manifestKey, out CheckpointManifest? cached))
        {
            return cached;
        }

        byte[]? bytes = await ReadAllAsync(manifestKey, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointCorruptedException(manifestKey, "the manifest is missing from the store.");
        return CheckpointManifest.Parse(bytes, manifestKey);
    }

    private async Task<(CheckpointStateFile? State, StoreVersion? Version, Exception? Damage)> ReadStateFileAsync(CancellationToken cancellationToken)
    {
        StoreReadResult? read = await _store.ReadAsync(StateFileKey, 0, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return (null, null, null);
        }

        await using (read.ConfigureAwait(false))
        {
            byte[] bytes = await ReadToEndAsync(read, cancellationToken).ConfigureAwait(false);
            try
            {
                CheckpointStateFile state = CheckpointStateFile.Parse(bytes, StateFileKey);
                if (!string.Equals(state.Chain, Chain, StringComparison.Ordinal))
                {
                    throw new CheckpointCorruptedException(StateFileKey, $"the state file belongs to chain \"{state.Chain}\", not \"{Chain}\".");
                }

                return (state, read.Info.Version, null);
            }
            catch (CheckpointCorruptedException ex)
            {
                return (null, read.Info.Version, ex);
            }
        }
    }

    private async Task LoadViewAsync(CancellationToken cancellationToken)
    {
        (CheckpointStateFile? state, StoreVersion? version, Exception? damage) = await ReadStateFileAsync(cancellationToken).ConfigureAwait(false);
        if (!_viewLoaded)
        {
            // The version seen first is the base of this writer's first compare-and-swap.
            _stateVersion = version;
        }
        else if (version != _stateVersion)
        {
            // The state file changed since this writer last saw it. Reading goes on; before its next commit the writer
            // checks whether the change was its own lost-response commit or another writer's.
            _resyncNeeded = true;
        }

        _newerStateFile = damage as CheckpointFormatVersionException;
        if (state is not null)
        {
            _view = [.. state.Checkpoints];
        }
        else if (damage is not null)
        {
            Log.RebuildingView(_logger, Chain, StateFileKey, damage);
            _view = await RebuildViewAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // A missing state file is normal for a new chain; with manifests in the store, it was lost.
            _view = await RebuildViewAsync(cancellationToken).ConfigureAwait(false);
            if (_view.Count > 0)
            {
                Log.RebuildingView(_logger, Chain, StateFileKey, null);
            }
            else
            {
                Log.NewChain(_logger, Chain, StateFileKey);
            }
        }

        _viewLoaded = true;
        TrackLatest();
    }

    private async Task<List<CheckpointReference>> RebuildViewAsync(CancellationToken cancellationToken)
    {
        var found = new List<CheckpointReference>();
        await foreach (StoreObjectInfo info in _store.ListAsync(ChainPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (!info.Key.EndsWith(ManifestSuffix, StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                byte[]? bytes = await ReadAllAsync(info.Key, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    continue;
                }

                CheckpointManifest manifest = CheckpointManifest.Parse(bytes, info.Key);
                if (manifest.Chain == Chain)
                {
                    found.Add(new CheckpointReference { Step = manifest.Step, ManifestKey = info.Key, CreatedAt = manifest.CreatedAt });
                }
            }
            catch (CheckpointFormatVersionException ex)
            {
                // Written by a newer SDK: never restored, retained or collected by this one.
                _newerFormatPrefixes.Add(SavePrefixOf(info.Key) + ".");
                Log.SkippingDamagedManifest(_logger, Chain, info.Key, ex);
            }
            catch (CheckpointCorruptedException ex)
            {
                Log.SkippingDamagedManifest(_logger, Chain, info.Key, ex);
            }
        }

        return [.. found.OrderByDescending(r => r.Step).ThenByDescending(r => r.CreatedAt)];
    }

    private async Task DeleteCheckpointAsync(CheckpointReference checkpoint, CancellationToken cancellationToken)
    {
        CheckpointManifest? manifest = null;
        try
        {
            manifest = await ReadManifestAsync(checkpoint.ManifestKey, cancellationToken).ConfigureAwait(false);
        }
        catch (CheckpointException)
        {
            // Damaged or unreadable: its parts are found by their shared prefix below.
        }

        try
        {
            // The manifest goes first, so no reader ever finds a manifest whose parts are gone.
            await _store.DeleteAsync(checkpoint.ManifestKey, null, cancellationToken).ConfigureAwait(false);
            _manifestCache.Remove(checkpoint.ManifestKey);
            IEnumerable<string> partKeys = manifest?.Parts.Select(p => p.Key)
                ?? await ListKeysAsync(SavePrefixOf(checkpoint.ManifestKey) + ".", cancellationToken).ConfigureAwait(false);
            foreach (string key in partKeys)
            {
                await _store.DeleteAsync(key, null, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (CheckpointException ex)
        {
            Log.RetentionDeleteFailed(_logger, Chain, checkpoint.ManifestKey, ex);
        }
    }

    private async Task<IReadOnlyList<string>> CollectOrphansCoreAsync(bool dryRun, CancellationToken cancellationToken)
    {
        ThrowIfNewerFormat();
        string[] retainedPrefixes = [.. _view.Select(r => SavePrefixOf(r.ManifestKey) + "."), .. _newerFormatPrefixes];
        DateTimeOffset cutoff = _time.GetUtcNow() - _options.OrphanGracePeriod;
        var orphans = new List<StoreObjectInfo>();
        await foreach (StoreObjectInfo info in _store.ListAsync(ChainPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (info.LastModified <= cutoff && !retainedPrefixes.Any(p => info.Key.StartsWith(p, StringComparison.Ordinal)))
            {
                orphans.Add(info);
            }
        }

        // Manifests first, for the same reason as in retention.
        orphans.Sort((a, b) => b.Key.EndsWith(ManifestSuffix, StringComparison.Ordinal).CompareTo(a.Key.EndsWith(ManifestSuffix, StringComparison.Ordinal)));
        var collected = new List<string>(orphans.Count);
        foreach (StoreObjectInfo orphan in orphans)
        {
            if (!dryRun)
            {
                try
                {
                    await _store.DeleteAsync(orphan.Key, orphan.Version, cancellationToken).ConfigureAwait(false);
                }
                catch (CheckpointConflictException)
                {
                    continue;
                }
            }

            collected.Add(orphan.Key);
        }

        if (!dryRun && collected.Count > 0)
        {
            Log.OrphansCollected(_logger, Chain, collected.Count);
        }

        return collected;
    }

    private async Task<List<string>> ListKeysAsync(string prefix, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (StoreObjectInfo info in _store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(info.Key);
        }

        return keys;
    }

    private async Task<byte[]?> ReadAllAsync(string key, CancellationToken cancellationToken)
    {
        StoreReadResult? read = await _store.ReadAsync(key, 0, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return null;
        }

        await using (read.ConfigureAwait(false))
        {
            return await ReadToEndAsync(read, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<byte[]> ReadToEndAsync(StoreReadResult read, CancellationToken cancellationToken)
    {
        const int MaxMetadataBytes = 16 * 1024 * 1024;
        if (read.Info.Length > MaxMetadataBytes)
        {
            throw new CheckpointCorruptedException(read.Info.Key, $"it is {read.Info.Length} bytes long, more than a manifest or state file can be ({MaxMetadataBytes} bytes).");
        }

        using var buffer = new MemoryStream((int)Math.Max(0, read.RemainingLength));
        await read.Content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private void ThrowIfNewerFormat()
    {
        // A chain a newer SDK has written to is left alone: overwriting its state file or collecting its objects could
        // destroy checkpoints this SDK cannot read.
        if (_newerStateFile is { } newer)
        {
            throw new CheckpointFormatVersionException(newer.Key, newer.FoundVersion, newer.SupportedVersion);
        }
    }

    private void ThrowIfOwnershipLost()
    {
        if (_ownershipLost)
        {
            throw new CheckpointOwnershipLostException(Chain, StateFileKey);
        }
    }

    private static void ValidateNames(IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in names)
        {
            StoreKey.ValidateName(name, "name");
            if (!seen.Add(name))
            {
                throw new ArgumentException($"The checkpointable name \"{name}\" is given more than once.", nameof(names));
            }
        }
    }

    private static string RandomHex(int bytes)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(buffer);
        return Convert.ToHexStringLower(buffer);
    }
}

/// <summary>What one restore read and skipped, for its log event and activity.</summary>
internal sealed class RestoreStats
{
    public long Bytes { get; set; }

    public int Fallbacks { get; set; }

    public Activity? Activity { get; init; }
}

/// <summary>A snapshot failed while it was being written, so the save it belonged to was abandoned.</summary>
public class CheckpointSaveException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="partKey">The key of the part being written.</param>
    /// <param name="innerException">The snapshot's exception.</param>
    public CheckpointSaveException(string partKey, Exception innerException)
        : base($"The snapshot for part \"{partKey}\" failed while it was written: {innerException.Message}", innerException)
    {
        PartKey = partKey;
    }

    /// <summary>Gets the key of the part being written.</summary>
    public string PartKey { get; }
}
