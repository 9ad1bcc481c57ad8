namespace InputPipeline.Checkpointing;

/// <summary>
/// A training session as hooks see it: the global step and the collection of iterators whose state belongs to
/// the input pipeline (the reference's "iterators" collection).
/// </summary>
public interface ITrainingSession
{
    /// <summary>Gets the global step: the number of steps completed so far, across restarts.</summary>
    long GlobalStep { get; }

    /// <summary>Gets the iterators registered with the session; only these are saved by the input-pipeline hook.</summary>
    CheckpointableCollection Iterators { get; }
}

/// <summary>
/// A hook into a training session's lifecycle, the counterpart of TensorFlow's <c>SessionRunHook</c>.
/// The session calls <see cref="BeginAsync"/> once, <see cref="AfterCreateSessionAsync"/> once every hook's
/// <see cref="BeginAsync"/> has run, then for each step <see cref="BeforeRunAsync"/> and <see cref="AfterRunAsync"/>,
/// and <see cref="EndAsync"/> when training stops normally. Hooks are called in the order they were given.
/// </summary>
public interface ISessionRunHook
{
    /// <summary>Called once before the session is used.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    ValueTask BeginAsync(CancellationToken cancellationToken = default);

    /// <summary>Called once the session exists and its iterators are initialised (registered).</summary>
    /// <param name="session">The session.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default);

    /// <summary>Called before each step.</summary>
    /// <param name="context">The step's context: global step and stop request.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default);

    /// <summary>Called after each step; <see cref="SessionRunContext.GlobalStep"/> already counts it.</summary>
    /// <param name="context">The step's context.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default);

    /// <summary>Called once when the session ends normally (steps reached, input exhausted, or a stop was requested).</summary>
    /// <param name="session">The session.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default);
}

/// <summary>A convenience base for <see cref="ISessionRunHook"/>: every method does nothing unless overridden.</summary>
public abstract class SessionRunHook : ISessionRunHook
{
    /// <inheritdoc/>
    public virtual ValueTask BeginAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <inheritdoc/>
    public virtual ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <inheritdoc/>
    public virtual ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <inheritdoc/>
    public virtual ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <inheritdoc/>
    public virtual ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
}

/// <summary>The context of one step, passed to <see cref="ISessionRunHook.BeforeRunAsync"/> and <see cref="ISessionRunHook.AfterRunAsync"/>.</summary>
public sealed class SessionRunContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="session">The session the step runs in.</param>
    /// <param name="timestamp">
    /// When the session reached this step boundary. Every hook sees the same value, so hooks with the same
    /// seconds-based cadence trigger at the same steps.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="session"/> is null.</exception>
    public SessionRunContext(ITrainingSession session, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(session);
        Session = session;
        Timestamp = timestamp;
    }

    /// <summary>Gets the session.</summary>
    public ITrainingSession Session { get; }

    /// <summary>Gets the session's global step (before the step in <c>BeforeRun</c>, after it in <c>AfterRun</c>).</summary>
    public long GlobalStep => Session.GlobalStep;

    /// <summary>Gets when the session reached this step boundary (the same value for every hook called with this context).</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Gets whether a hook has asked the session to stop.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Asks the session to stop after the current step; the session then calls every hook's <c>EndAsync</c>.</summary>
    public void RequestStop() => StopRequested = true;
}

/// <summary>
/// The named checkpointables of a session (the reference's "iterators" collection). Names are checkpoint names
/// (see <see cref="StoreKey.ValidateName(string, string)"/>) and unique; order of registration is kept.
/// </summary>
public sealed class CheckpointableCollection : IReadOnlyCollection<KeyValuePair<string, ICheckpointable>>
{
    private readonly List<KeyValuePair<string, ICheckpointable>> _items = [];
    private readonly object _gate = new();

    /// <summary>Gets the number of registered checkpointables.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>Registers <paramref name="item"/> under <paramref name="name"/>.</summary>
    /// <param name="name">A checkpoint name, unique in the collection; it becomes the part name in the checkpoint.</param>
    /// <param name="item">The checkpointable.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is invalid or already registered.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is null.</exception>
    public void Add(string name, ICheckpointable item)
    {
        StoreKey.ValidateName(name, nameof(name));
        ArgumentNullException.ThrowIfNull(item);
        lock (_gate)
        {
            if (_items.Exists(pair => string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"A checkpointable named \"{name}\" is already registered (names are compared case-insensitively).", nameof(name));
            }

            _items.Add(new(name, item));
        }
    }

    /// <summary>Removes the checkpointable registered under <paramref name="name"/>.</summary>
    /// <param name="name">The name.</param>
    /// <returns><see langword="true"/> if one was removed.</returns>
    public bool Remove(string name)
    {
        lock (_gate)
        {
            return _items.RemoveAll(pair => string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase)) > 0;
        }
    }

    /// <summary>Returns the registered checkpointables in registration order, as of now.</summary>
    /// <returns>A copy of the registrations.</returns>
    public IReadOnlyList<KeyValuePair<string, ICheckpointable>> ToList()
    {
        lock (_gate)
        {
            return [.. _items];
        }
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, ICheckpointable>> GetEnumerator() => ToList().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
