namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// Decides when a cadence triggers, like TensorFlow's <c>SecondOrStepTimer</c>: every <c>n</c> steps or every
/// <c>t</c> of wall time, never twice for the same step.
/// </summary>
internal sealed class StepOrSecondsTimer
{
    private readonly long? _everySteps;
    private readonly TimeSpan? _every;
    private long? _lastStep;
    private DateTimeOffset _lastTime;

    public StepOrSecondsTimer(long? everySteps, TimeSpan? every)
    {
        if ((everySteps is null) == (every is null))
        {
            throw new ArgumentException("Exactly one of everySteps and every must be set.");
        }

        _everySteps = everySteps;
        _every = every;
    }

    public long? LastTriggeredStep => _lastStep;

    public bool ShouldTrigger(long step, DateTimeOffset now)
    {
        if (_lastStep is null)
        {
            return true;
        }

        if (_lastStep == step)
        {
            return false;
        }

        return _everySteps is { } steps
            ? step >= _lastStep.Value + steps
            : now - _lastTime >= _every!.Value;
    }

    public void Update(long step, DateTimeOffset now)
    {
        _lastStep = step;
        _lastTime = now;
    }
}
