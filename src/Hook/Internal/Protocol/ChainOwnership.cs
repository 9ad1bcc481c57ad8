namespace InputPipeline.Checkpointing.Internal;

/// <summary>Whether this writer still owns its chain. Once lost, ownership never comes back: every later save throws.</summary>
internal sealed class ChainOwnership(ChainContext chain)
{
    private volatile bool _lost;

    public bool IsLost => _lost;

    /// <summary>Records the loss (the age of the latest checkpoint is no longer reported) and returns the exception to throw.</summary>
    public CheckpointOwnershipLostException Lose(Exception? cause = null)
    {
        _lost = true;
        chain.Metrics.ForgetLatest(chain.MetricsOwner);
        CheckpointManager.Log.OwnershipLost(chain.Logger, chain.Chain, chain.StateFileKey);
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
