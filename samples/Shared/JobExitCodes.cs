namespace InputPipeline.Checkpointing.Samples;

/// <summary>
/// The exit codes of the sample jobs (SpotTraining, SpotTorch): what an orchestrator reads to decide whether the work
/// is safe. Every code but <see cref="Done"/> and <see cref="Unexpected"/> comes with one line on standard error that
/// says what happened and what to do.
/// </summary>
public static class JobExitCodes
{
    /// <summary>0: the work is done (the target step was reached, or a stop was asked for) and its last checkpoint is committed.</summary>
    public const int Done = 0;

    /// <summary>1: an unexpected failure (a bug); the only case that prints a stack trace.</summary>
    public const int Unexpected = 1;

    /// <summary>2: invalid configuration; the message names the key.</summary>
    public const int InvalidConfiguration = 2;

    /// <summary>3: the job's input data cannot be used (written for another seed, or damaged); the message names the directory.</summary>
    public const int UnusableData = 3;

    /// <summary>
    /// 4: a checkpoint failure the job cannot go on from: the store is unreachable or refuses the job, the chain's
    /// ownership was lost to another copy of the job, or no checkpoint can be restored.
    /// </summary>
    public const int CheckpointFailure = 4;

    /// <summary>
    /// 5: the job reached its target step, or stopped when asked to, but its final checkpoint did not commit (for
    /// example a full disk): the message says which step a restart resumes from, and so how many steps it repeats.
    /// </summary>
    public const int FinalCheckpointNotCommitted = 5;
}
