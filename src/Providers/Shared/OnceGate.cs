// Shared source: compiled into each cloud provider package (linked from its .csproj).
namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// Runs a preparation once for every caller of a store, for example "make sure the bucket exists, creating it if
/// allowed": concurrent callers share one run, which no single caller can cancel (each stops waiting when its own
/// token is cancelled); a run that failed runs again at the next call; and <see cref="Reset"/> makes the next call
/// run it again, for when the store learns that what it prepared is gone (a deleted container).
/// </summary>
internal sealed class OnceGate(Func<Task> run)
{
    private readonly Lock _gate = new();
    private Task? _run;

    /// <summary>Returns once the preparation has succeeded, starting it if needed.</summary>
    public Task EnsureAsync(CancellationToken cancellationToken)
    {
        Task current;
        lock (_gate)
        {
            if (_run is null || _run.IsFaulted || _run.IsCanceled)
            {
                _run = run();
            }

            current = _run;
        }

        return current.IsCompletedSuccessfully ? Task.CompletedTask : current.WaitAsync(cancellationToken);
    }

    /// <summary>Forgets a successful run, so the next <see cref="EnsureAsync"/> runs the preparation again.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _run = null;
        }
    }
}
