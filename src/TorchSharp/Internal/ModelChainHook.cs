namespace InputPipeline.Checkpointing.TorchSharp.Internal;

/// <summary>
/// Saves and restores the model chain through a <see cref="CheckpointInputPipelineHook"/> built on the model chain's
/// manager: the hook is shown a view of the session whose only checkpointable is the training state, so it captures,
/// uploads, retains and restores the state exactly as the input chain's hook does its iterators, at the same steps.
/// </summary>
internal sealed class ModelChainHook : ISessionRunHook, IAsyncDisposable
{
    private readonly CheckpointInputPipelineHook _inner;
    private readonly CheckpointableCollection _model = new();
    private readonly TorchCheckpointing _owner;
    private SessionView? _view;

    public ModelChainHook(CheckpointInputPipelineHook inner, TorchTrainingState state, TorchCheckpointing owner)
    {
        _inner = inner;
        _owner = owner;
        _model.Add(TorchCheckpointing.ModelPartName, state);
    }

    public ValueTask BeginAsync(CancellationToken cancellationToken = default) => _inner.BeginAsync(cancellationToken);

    public ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default) =>
        _inner.AfterCreateSessionAsync(View(session), cancellationToken);

    public async ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_owner.ResumeStep is null)
        {
            throw new InvalidOperationException("Call TorchCheckpointing.ResumeAsync before the first step, and start the session at the step it returns: it picks the step where the model and the input checkpoints agree.");
        }

        var inner = new SessionRunContext(View(context.Session), context.Timestamp);
        await _inner.BeforeRunAsync(inner, cancellationToken).ConfigureAwait(false);
        if (inner.StopRequested)
        {
            context.RequestStop();
        }
    }

    public async ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var inner = new SessionRunContext(View(context.Session), context.Timestamp);
        await _inner.AfterRunAsync(inner, cancellationToken).ConfigureAwait(false);
        if (inner.StopRequested)
        {
            context.RequestStop();
        }
    }

    public ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default) =>
        _inner.EndAsync(View(session), cancellationToken);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private SessionView View(ITrainingSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_view is null || !ReferenceEquals(_view.Session, session))
        {
            _view = new SessionView(session, _model);
        }

        return _view;
    }

    /// <summary>The session's global step, with the training state as its only checkpointable.</summary>
    private sealed class SessionView(ITrainingSession session, CheckpointableCollection model) : ITrainingSession
    {
        public ITrainingSession Session => session;

        public long GlobalStep => session.GlobalStep;

        public CheckpointableCollection Iterators => model;
    }
}
