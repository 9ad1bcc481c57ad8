namespace InputPipeline.Checkpointing;

/// <summary>The manager's retention exception: the one step a job of several chains must not lose.</summary>
public sealed partial class CheckpointManager
{
    /// <summary>
    /// Gets or sets a step whose checkpoint this manager's retention keeps even when it is older than the
    /// <see cref="CheckpointManagerOptions.KeepMax"/> newest (the chain then retains one more), or <see langword="null"/>
    /// (the default) for none. <see cref="AlignedRetention"/> sets it to the newest step every chain of a job committed,
    /// so that a run of failed saves on one chain never makes the other drop the last step they share.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public long? ProtectedStep
    {
        get => _chain.ProtectedStep;
        set
        {
            if (value is { } step)
            {
                ArgumentOutOfRangeException.ThrowIfNegative(step, nameof(value));
            }

            _chain.ProtectedStep = value;
        }
    }
}
