namespace InputPipeline.Checkpointing;

/// <summary>What a writer does with a chain another writer may still be writing when it starts: take it over, or leave it to the first.</summary>
public enum OwnershipPolicy
{
    /// <summary>
    /// The writer claims the chain when it starts, before it restores: it replaces the state file with a new owner
    /// epoch (one more than the file's), keeping the latest and retained checkpoints. Any older writer still running
    /// (a zombie of a replaced VM) fails its next commit with <see cref="CheckpointOwnershipLostException"/>, and an
    /// upload it has in flight never becomes the latest. The newest launch always wins. The default.
    /// </summary>
    TakeOver = 0,

    /// <summary>
    /// The writer does not claim the chain when it starts; it claims it with its first commit, which fails with
    /// <see cref="CheckpointOwnershipLostException"/> if another writer has committed since this one read the state file.
    /// A second copy of a job then stops rather than take over.
    /// </summary>
    FirstWriterWins = 1,
}
