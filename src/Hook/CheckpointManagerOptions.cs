namespace InputPipeline.Checkpointing;

/// <summary>Options of a <see cref="CheckpointManager"/>: which chain it manages and how it retains checkpoints.</summary>
public sealed class CheckpointManagerOptions
{
    /// <summary>The default chain, the input pipeline's: <c>input</c> (base name <c>input.ckpt</c>, state file <c>checkpoint_input</c>).</summary>
    public const string DefaultChain = CheckpointKeyLayout.InputChain;

    /// <summary>The default number of checkpoints retained: 5, as TensorFlow's saver.</summary>
    public const int DefaultKeepMax = 5;

    /// <summary>The default grace period before an unreferenced object counts as an orphan: one hour.</summary>
    public static readonly TimeSpan DefaultOrphanGracePeriod = TimeSpan.FromHours(1);

    /// <summary>The default number of commits between two orphan collections: 10 (the first commit of a manager always collects).</summary>
    public const int DefaultOrphanCollectionInterval = 10;

    /// <summary>
    /// Gets or sets the chain: the checkpoint base name without <c>.ckpt</c>, for example <c>input</c>,
    /// <c>input_worker_1</c> or <c>model</c>. A checkpoint name (see <see cref="StoreKey.ValidateName(string, string)"/>)
    /// that does not contain <c>.ckpt</c>. Default <see cref="DefaultChain"/>.
    /// </summary>
    public string Chain { get; set; } = DefaultChain;

    /// <summary>
    /// Gets or sets the key of the chain's state file. Default <see langword="null"/>: <c>checkpoint_</c> + <see cref="Chain"/>
    /// (so <c>checkpoint_input</c>, never the model's <c>checkpoint</c>).
    /// </summary>
    public string? StateFileKey { get; set; }

    /// <summary>Gets or sets how many of the most recent checkpoints to keep; at least 1. Default <see cref="DefaultKeepMax"/>.</summary>
    public int KeepMax { get; set; } = DefaultKeepMax;

    /// <summary>
    /// Gets or sets how old an object of the chain that no retained checkpoint references must be before it is
    /// collected as an orphan of a crashed save. Default <see cref="DefaultOrphanGracePeriod"/>; zero or more.
    /// </summary>
    public TimeSpan OrphanGracePeriod { get; set; } = DefaultOrphanGracePeriod;

    /// <summary>Gets or sets how many commits pass between orphan collections; at least 1. Default <see cref="DefaultOrphanCollectionInterval"/>.</summary>
    public int OrphanCollectionInterval { get; set; } = DefaultOrphanCollectionInterval;

    /// <summary>
    /// Gets or sets the id this writer records in manifests and the state file. Default <see langword="null"/>: the
    /// machine name, the process id and a random suffix. As the chain's owner, a writer with an id set here is recorded
    /// with a random suffix as well, so two processes given the same id are still told apart.
    /// </summary>
    public string? WriterId { get; set; }

    /// <summary>
    /// Gets or sets what <see cref="CheckpointManager.ClaimAsync"/> does when a writer starts: take the chain over (a
    /// new owner epoch, so an older writer still running is fenced off) or claim it only with the first commit.
    /// Default <see cref="OwnershipPolicy.TakeOver"/>.
    /// </summary>
    public OwnershipPolicy Ownership { get; set; } = OwnershipPolicy.TakeOver;

    /// <summary>Checks the options.</summary>
    /// <exception cref="CheckpointOptionsException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!CheckpointKeyLayout.IsValidChain(Chain))
        {
            throw new CheckpointOptionsException(nameof(Chain), $"\"{Chain}\" is not a valid chain name: use 1 to {StoreKey.MaxNameLength} characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..' or '.ckpt'.");
        }

        if (StateFileKey is not null && !StoreKey.IsValid(StateFileKey))
        {
            throw new CheckpointOptionsException(nameof(StateFileKey), $"\"{StateFileKey}\" is not a valid store key.");
        }

        if (KeepMax < 1)
        {
            throw new CheckpointOptionsException(nameof(KeepMax), $"must be at least 1 (was {KeepMax}).");
        }

        if (OrphanGracePeriod < TimeSpan.Zero)
        {
            throw new CheckpointOptionsException(nameof(OrphanGracePeriod), $"must not be negative (was {OrphanGracePeriod}).");
        }

        if (OrphanCollectionInterval < 1)
        {
            throw new CheckpointOptionsException(nameof(OrphanCollectionInterval), $"must be at least 1 (was {OrphanCollectionInterval}).");
        }

        if (WriterId is not null && (WriterId.Length == 0 || WriterId.Length > 200))
        {
            throw new CheckpointOptionsException(nameof(WriterId), "must be 1 to 200 characters when set.");
        }

        if (!Enum.IsDefined(Ownership))
        {
            throw new CheckpointOptionsException(nameof(Ownership), $"must be TakeOver or FirstWriterWins (was {Ownership}).");
        }
    }

    internal CheckpointManagerOptions Clone() => (CheckpointManagerOptions)MemberwiseClone();
}
