using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// Reads a node ahead of its consumer on a background task, into a buffer of at most <c>capacity</c> elements: the
/// engine of <c>prefetch</c> and of each open dataset of a parallel <c>interleave</c>. An optional limiter, shared by
/// several readers, bounds how many of them are inside their input at once.
/// </summary>
/// <remarks>
/// <para>
/// A capture needs the input's state and the buffer at the same element boundary, while the producer may be inside the
/// input, waiting for a network read. <see cref="Pause"/> stops the producer from starting another step and cancels the
/// step under way; a node's cancelled <c>MoveNextAsync</c> leaves it consistent (the node contract), so the producer
/// leaves it at once, and takes the step up again after <see cref="Resume"/>. The capture therefore waits for the
/// cancellation to be noticed, not for the read; only a step that does not observe cancellation (a function running on
/// the CPU) is waited for.
/// </para>
/// <para>The consumer calls <see cref="MoveNextAsync"/>, <see cref="Pause"/>, <see cref="Resume"/> and <see cref="DisposeAsync"/>, never concurrently.</para>
/// </remarks>
internal sealed class BackgroundReader<T>(Node<T> input, int capacity, SemaphoreSlim? limiter) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Queue<T> _buffer = new();
    private readonly SemaphoreSlim _space = new(0, int.MaxValue);
    private readonly SemaphoreSlim _available = new(0, 1);
    private readonly ManualResetEventSlim _idle = new(true);
    private readonly CancellationTokenSource _stop = new();

    // The step under way is cancelled through this; it is replaced once cancelled (and not disposed: Cancel may still be
    // running its callbacks on the capturing thread).
    private CancellationTokenSource _step = new();
    private Task? _producer;
    private bool _inStep;
    private int _pauses;
    private TaskCompletionSource? _resumed;
    private bool _inputEnded;
    private ExceptionDispatchInfo? _failure;

    public T Current { get; private set; } = default!;

    /// <summary>Puts restored elements in the buffer, ahead of anything the producer reads; before the first <see cref="MoveNextAsync"/>.</summary>
    public void Preload(IEnumerable<T> elements)
    {
        lock (_gate)
        {
            foreach (T element in elements)
            {
                _buffer.Enqueue(element);
            }
        }
    }

    /// <summary>Starts the producer if it has not started (after any restore).</summary>
    public void Start()
    {
        if (_producer is not null)
        {
            return;
        }

        int queued;
        lock (_gate)
        {
            queued = _buffer.Count;
        }

        if (capacity > queued)
        {
            _space.Release(capacity - queued);
        }

        _producer = Task.Run(ProduceAsync, CancellationToken.None);
    }

    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
    {
        Start();
        while (true)
        {
            lock (_gate)
            {
                if (_buffer.Count > 0)
                {
                    Current = _buffer.Dequeue();
                    _space.Release();
                    return true;
                }

                if (_failure is { } failure)
                {
                    // Thrown once, where the element would have been; a caller that catches it can go on, as without
                    // the reader: the producer starts again with the input's next element.
                    _failure = null;
                    _producer = Task.Run(ProduceAsync, CancellationToken.None);
                    failure.Throw();
                }

                if (_inputEnded)
                {
                    return false;
                }
            }

            await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the producer from starting a step and cancels the step under way; <see cref="WaitPaused"/> waits until it has left it.</summary>
    public void Pause()
    {
        CancellationTokenSource? under = null;
        lock (_gate)
        {
            _pauses++;
            if (_inStep)
            {
                under = _step;
            }
        }

        // Outside the gate: the cancellation's callbacks may run the producer's continuation on this thread.
        under?.Cancel();
    }

    /// <summary>Waits (synchronously, on the capturing thread) until the producer is outside its input.</summary>
    public void WaitPaused() => _idle.Wait();

    /// <summary>The buffered elements, in order; while paused, they and the input's state are at the same element boundary.</summary>
    public T[] Buffered()
    {
        lock (_gate)
        {
            return [.. _buffer];
        }
    }

    /// <summary>Lets the producer go on after <see cref="Pause"/>; it takes an interrupted step up again.</summary>
    public void Resume()
    {
        TaskCompletionSource? resumed = null;
        lock (_gate)
        {
            if (--_pauses == 0)
            {
                resumed = _resumed;
                _resumed = null;
            }
        }

        resumed?.TrySetResult();
    }

    /// <summary>Stops the producer and waits for it; the input is left to its owner.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        CancellationTokenSource step;
        lock (_gate)
        {
            step = _step;
        }

        await step.CancelAsync().ConfigureAwait(false);
        if (_producer is not null)
        {
            try
            {
                await _producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Expected: the producer was stopped.
            }
        }

        _stop.Dispose();
        _space.Dispose();
        _available.Dispose();
        _idle.Dispose();
    }

    private async Task ProduceAsync()
    {
        CancellationToken stop = _stop.Token;
        try
        {
            while (true)
            {
                await _space.WaitAsync(stop).ConfigureAwait(false);
                bool? more;
                do
                {
                    CancellationToken step = await BeginStepAsync(stop).ConfigureAwait(false);
                    more = null;
                    try
                    {
                        more = await StepAsync(step).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (step.IsCancellationRequested && !stop.IsCancellationRequested)
                    {
                        // Interrupted by a capture: the input is consistent; the step is taken up again after it.
                    }
                    finally
                    {
                        EndStep(more);
                    }
                }
                while (more is null);

                if (more == false)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                // The failed step took a place in the buffer and filled none.
                _space.Release();
                _failure = ExceptionDispatchInfo.Capture(ex);
                Signal();
            }
        }
    }

    /// <summary>Waits while a capture holds the producer, then marks it inside the input; returns the step's token.</summary>
    private async ValueTask<CancellationToken> BeginStepAsync(CancellationToken stop)
    {
        while (true)
        {
            Task resumed;
            lock (_gate)
            {
                if (_pauses == 0)
                {
                    if (_step.IsCancellationRequested)
                    {
                        _step = new CancellationTokenSource();
                    }

                    _inStep = true;
                    _idle.Reset();
                    return _step.Token;
                }

                resumed = (_resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await resumed.WaitAsync(stop).ConfigureAwait(false);
        }
    }

    private async ValueTask<bool> StepAsync(CancellationToken step)
    {
        if (limiter is null)
        {
            return await input.MoveNextAsync(step).ConfigureAwait(false);
        }

        await limiter.WaitAsync(step).ConfigureAwait(false);
        try
        {
            return await input.MoveNextAsync(step).ConfigureAwait(false);
        }
        finally
        {
            limiter.Release();
        }
    }

    /// <summary>Hands the step's element (or the end) to the consumer, and marks the producer outside the input.</summary>
    private void EndStep(bool? more)
    {
        lock (_gate)
        {
            if (more == true)
            {
                _buffer.Enqueue(input.Current);
                Signal();
            }
            else if (more == false)
            {
                _inputEnded = true;
                Signal();
            }

            _inStep = false;
            _idle.Set();
        }
    }

    /// <summary>Wakes the consumer; called under the gate, so the count never exceeds one.</summary>
    private void Signal()
    {
        if (_available.CurrentCount == 0)
        {
            _available.Release();
        }
    }
}
