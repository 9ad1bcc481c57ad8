namespace InputPipeline.Checkpointing.Cli;

/// <summary>The exit codes of the <c>ckpt</c> tool. Every failure also prints one <c>ckpt: …</c> line to standard error.</summary>
public static class CliExitCodes
{
    /// <summary>0: the command did what was asked (for <c>verify</c>: every checkpoint checked is sound).</summary>
    public const int Success = 0;

    /// <summary>1: an unexpected failure (a bug); the only case that prints a stack trace.</summary>
    public const int UnexpectedError = 1;

    /// <summary>2: bad arguments: an unknown command or option, a missing argument, an invalid value, a store URI that does not parse or has an unknown scheme, or store settings the provider rejects.</summary>
    public const int BadArguments = 2;

    /// <summary>3: the store cannot be used: a missing directory, bucket or container, no or refused credentials, an unreachable endpoint.</summary>
    public const int StoreUnavailable = 3;

    /// <summary>4: a checkpoint is damaged: a missing or truncated part, a checksum mismatch, an unreadable manifest or state file; the message names the object.</summary>
    public const int Damaged = 4;

    /// <summary>5: nothing matches: the store holds no checkpoint, or no pipeline (chain) or step of the name or number given.</summary>
    public const int NotFound = 5;

    /// <summary>6: a conflict: another writer took a chain over while the command was changing it, or the destination of a copy holds other checkpoints of the chain.</summary>
    public const int Conflict = 6;

    /// <summary>130: interrupted (Ctrl+C or SIGTERM); a <c>copy</c> run again resumes.</summary>
    public const int Interrupted = 130;
}
