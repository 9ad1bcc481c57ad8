namespace InputPipeline.Checkpointing.Internal;

/// <summary>Who owns a chain, as a state file records it: the owner epoch and the owner's id.</summary>
internal readonly record struct OwnerStamp(long Epoch, string? OwnerId)
{
    /// <summary>Returns the stamp of a state file; a missing or damaged one has none (epoch 0, no owner).</summary>
    public static OwnerStamp Of(CheckpointStateFile? state) => state is null ? default : new(state.OwnerEpoch, state.OwnerId);
}

/// <summary>The kind of commit: a writer's (a save, or its own prune), or a maintenance tool's (a prune by a manager that does not own the chain).</summary>
internal enum CommitRole
{
    Writer,
    Maintenance,
}

/// <summary>
/// Whether this manager owns its chain, and the rule every commit is judged by. A writer owns the chain once it has
/// claimed it (<see cref="ChainClaimer"/>) or committed to it; it then holds an owner epoch, and a commit is valid only
/// while the state file still carries that epoch and its id. A manager that does not own the chain commits on the
/// owner it saw when it first read the state file: a writer's first commit takes the chain over (the next epoch) only
/// if no checkpoint was committed since; a maintenance commit keeps the owner. A change that keeps the owner (and, for
/// a first commit, the latest checkpoint) is re-read and re-applied; any other change loses ownership for good.
/// </summary>
internal sealed class ChainOwnership(ChainContext chain)
{
    private volatile bool _lost;

    /// <summary>Gets the id this manager is recorded with as the chain's owner: its writer id, made unique when it was set explicitly.</summary>
    public string OwnerId { get; } = chain.Options.WriterId is null ? chain.WriterId : $"{chain.WriterId}#{ChainContext.RandomHex(4)}";

    /// <summary>Gets whether ownership was lost; it never comes back.</summary>
    public bool IsLost => _lost;

    /// <summary>Gets the owner epoch this manager holds, or <see langword="null"/> before its claim or first commit.</summary>
    public long? HeldEpoch { get; private set; }

    /// <summary>Gets or sets the owner the state file named when this manager first read it.</summary>
    public OwnerStamp Baseline { get; set; }

    /// <summary>Gets or sets the latest checkpoint's manifest key when this manager first read the state file.</summary>
    public string? BaselineLatest { get; set; }

    /// <summary>Records that this manager now owns the chain at <paramref name="epoch"/>.</summary>
    public void Hold(long epoch) => HeldEpoch = epoch;

    /// <summary>Returns the owner a commit of <paramref name="role"/> records.</summary>
    public OwnerStamp StampFor(CommitRole role) =>
        HeldEpoch is { } epoch ? new OwnerStamp(epoch, OwnerId)
        : role == CommitRole.Writer ? new OwnerStamp(Baseline.Epoch + 1, OwnerId)
        : Baseline;

    /// <summary>Returns whether a commit of <paramref name="role"/> may be re-applied over <paramref name="current"/>, the state file someone else replaced.</summary>
    public bool AllowsChange(CheckpointStateFile? current, CommitRole role)
    {
        OwnerStamp now = OwnerStamp.Of(current);
        if (HeldEpoch is { } epoch)
        {
            return now == new OwnerStamp(epoch, OwnerId);
        }

        return now == Baseline
            && (role == CommitRole.Maintenance || string.Equals(current?.Latest?.ManifestKey, BaselineLatest, StringComparison.Ordinal));
    }

    /// <summary>Records the loss (the age of the latest checkpoint is no longer reported) and returns the exception to throw.</summary>
    public CheckpointOwnershipLostException Lose(CheckpointStateFile? current, Exception? cause = null)
    {
        _lost = true;
        chain.Metrics.ForgetLatest(chain.MetricsOwner);
        OwnerStamp now = OwnerStamp.Of(current);
        CheckpointManager.Log.OwnershipLost(chain.Logger, chain.Chain, chain.StateFileKey, now.Epoch, now.OwnerId ?? "none", HeldEpoch ?? Baseline.Epoch);
        return new CheckpointOwnershipLostException(chain.Chain, chain.StateFileKey, cause);
    }

    /// <exception cref="CheckpointOwnershipLostException">Ownership was lost earlier.</exception>
    public void ThrowIfLost()
    {
        if (_lost)
        {
            throw new CheckpointOwnershipLostException(chain.Chain, chain.StateFileKey);
        }
    }
}
