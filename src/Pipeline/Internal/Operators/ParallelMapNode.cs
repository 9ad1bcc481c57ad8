using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>What a parallel map or filter does to one input: whether to keep it, and the result.</summary>
internal delegate bool Transform<TIn, TOut>(TIn value, out TOut result);

/// <summary>
/// The parallel map and filter: the consumer's thread reads inputs into a window of <see cref="WindowSize"/> entries (the inputs in
/// flight, in input order), up to <c>parallelism</c> thread-pool workers apply the function to them in that order, and the
/// consumer hands out the results from the front of the window, in order, so the sequence is the sequential operator's.
/// Only the consumer touches the input, so a capture (on the consumer's thread, between two calls) sees the input's
/// state and the window at the same element boundary without pausing anything: it saves the window's inputs (the
/// in-flight section) and the input's state, and the workers go on.
/// </summary>
internal sealed class ParallelMapNode<TIn, TOut> : UnaryNode<TIn, TOut>
{
    /// <summary>The least read-ahead beyond the elements being computed: it keeps the workers busy while the consumer's thread waits to be scheduled.</summary>
    public const int MinReadAhead = 8;
    private readonly Transform<TIn, TOut> _transform;
    private readonly int _parallelism;
    private readonly IElementCodec<TIn> _codec;
    private readonly Lock _gate = new();
    private readonly Entry[] _window;
    private readonly TIn[] _reads;

    // Absolute positions in the input order: the front of the window (next to hand out), its end (next to add), and the
    // next entry a worker starts. Entry i lives in _window[i % length].
    private long _front;
    private long _end;
    private long _nextToStart;
    private int _running;
    private bool _inputEnded;
    private bool _disposed;
    private Entry? _awaited;
    private TaskCompletionSource? _frontDone;
    private TaskCompletionSource? _drained;

    // Inputs restored from a state saved with a larger window, added to the window as it empties: _overflow[_overflowNext..].
    private TIn[] _overflow = [];
    private int _overflowNext;

    public ParallelMapNode(Node<TIn> input, Transform<TIn, TOut> transform, int parallelism, IElementCodec<TIn> codec)
        : base(input)
    {
        _transform = transform;
        _parallelism = parallelism;
        _codec = codec;
        _window = new Entry[WindowSize(parallelism)];
        _reads = new TIn[_window.Length];
        for (int i = 0; i < _window.Length; i++)
        {
            _window[i] = new Entry();
        }
    }

    public override int ReadAvailable(Span<TOut> destination)
    {
        int written = 0;
        TopUpAvailable();
        while (written < destination.Length)
        {
            Entry entry;
            lock (_gate)
            {
                if (_front == _end)
                {
                    break;
                }

                entry = _window[_front % _window.Length];

                // A failure is thrown by MoveNextAsync only, so it stays at the front.
                if (!entry.Done || entry.Failure is not null)
                {
                    break;
                }

                _front++;
            }

            if (entry.Keep)
            {
                destination[written++] = entry.Output;
            }

            entry.Clear();
            TopUpAvailable();
        }

        if (written > 0)
        {
            Current = destination[written - 1];
        }

        return written;
    }

    public override StateWrite Capture(CaptureContext context)
    {
        TIn[] inFlight;
        lock (_gate)
        {
            int inWindow = (int)(_end - _front);
            inFlight = new TIn[inWindow + _overflow.Length - _overflowNext];
            for (int i = 0; i < inWindow; i++)
            {
                inFlight[i] = _window[(_front + i) % _window.Length].Input;
            }

            _overflow.AsSpan(_overflowNext).CopyTo(inFlight.AsSpan(inWindow));
        }

        StateWrite section = ElementSection.CaptureInFlight(context, inFlight, () => _codec);
        StateWrite inputState = Input.Capture(context);
        return async (writer, cancellationToken) =>
        {
            await section(writer, cancellationToken).ConfigureAwait(false);
            await inputState(writer, cancellationToken).ConfigureAwait(false);
        };
    }

    public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
    {
        TIn[] inFlight = await ElementSection.ReadInFlightAsync(reader, () => _codec, "the map's inputs in flight", cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            // Saved with a larger window (a higher parallelism): the inputs that do not fit wait in _overflow.
            int direct = Math.Min(inFlight.Length, _window.Length);
            for (int i = 0; i < direct; i++)
            {
                Add(inFlight[i]);
            }

            _overflow = inFlight[direct..];
            _overflowNext = 0;
        }

        await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TopUpAvailable();
            Entry? front = null;
            Task? frontDone = null;
            bool readInput = false;
            lock (_gate)
            {
                if (_front < _end)
                {
                    Entry entry = _window[_front % _window.Length];
                    if (entry.Done)
                    {
                        front = entry;
                        _front++;
                    }
                    else if (HasRoom && !_inputEnded)
                    {
                        // Keep the workers fed while the front is computed.
                        readInput = true;
                    }
                    else
                    {
                        _awaited = entry;
                        _frontDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        frontDone = _frontDone.Task;
                    }
                }
                else if (_inputEnded)
                {
                    return false;
                }
                else
                {
                    readInput = true;
                }
            }

            if (front is not null)
            {
                ExceptionDispatchInfo? failure = front.Failure;
                bool keep = front.Keep;
                TOut output = front.Output;
                front.Clear();
                failure?.Throw();
                if (keep)
                {
                    Current = output;
                    return true;
                }
            }
            else if (readInput)
            {
                if (await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    lock (_gate)
                    {
                        Add(Input.Current);
                        Schedule();
                    }
                }
                else
                {
                    _inputEnded = true;
                }
            }
            else
            {
                try
                {
                    await frontDone!.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    lock (_gate)
                    {
                        _awaited = null;
                        _frontDone = null;
                    }

                    throw;
                }
            }
        }
    }

    protected override async ValueTask ReleaseAsync()
    {
        Task? drained = null;
        lock (_gate)
        {
            _disposed = true;
            if (_running > 0)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                drained = _drained.Task;
            }
        }

        if (drained is not null)
        {
            await drained.ConfigureAwait(false);
        }

        await Input.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The most inputs in flight: <paramref name="parallelism"/> being computed and at least <see cref="MinReadAhead"/> more.</summary>
    public static int WindowSize(int parallelism) => parallelism + Math.Max(parallelism, MinReadAhead);

    private bool HasRoom => _end - _front < _window.Length;

    /// <summary>Fills the window from the inputs restored beyond its size, then from the input's fast path, and starts workers.</summary>
    private void TopUpAvailable()
    {
        lock (_gate)
        {
            while (HasRoom && _overflowNext < _overflow.Length)
            {
                Add(_overflow[_overflowNext]);
                _overflow[_overflowNext++] = default!;
            }

            if (_overflowNext < _overflow.Length)
            {
                Schedule();
                return;
            }
        }

        int room = (int)(_window.Length - (_end - _front));
        int read = room > 0 && !_inputEnded ? Input.ReadAvailable(_reads.AsSpan(0, room)) : 0;
        lock (_gate)
        {
            for (int i = 0; i < read; i++)
            {
                Add(_reads[i]);
            }

            Schedule();
        }

        FastPath.Clear(_reads, read);
    }

    /// <summary>Appends an input to the window; under the gate.</summary>
    private void Add(TIn input)
    {
        _window[_end % _window.Length].Reset(input);
        _end++;
    }

    /// <summary>Starts workers for the entries not started yet, up to the parallelism; under the gate.</summary>
    private void Schedule()
    {
        while (!_disposed && _running < _parallelism && _running < _end - _nextToStart)
        {
            _running++;
            ThreadPool.UnsafeQueueUserWorkItem(static node => node.Work(), this, preferLocal: false);
        }
    }

    /// <summary>A worker: applies the function to the next entry not started, in order, until there is none.</summary>
    private void Work()
    {
        while (true)
        {
            Entry entry;
            lock (_gate)
            {
                if (_disposed || _nextToStart == _end)
                {
                    _running--;
                    if (_running == 0 && _drained is { } drained)
                    {
                        drained.TrySetResult();
                    }

                    return;
                }

                entry = _window[_nextToStart % _window.Length];
                _nextToStart++;
            }

            try
            {
                entry.Keep = _transform(entry.Input, out entry.Output);
            }
            catch (Exception ex)
            {
                entry.Failure = ExceptionDispatchInfo.Capture(ex);
            }

            TaskCompletionSource? wake = null;
            lock (_gate)
            {
                entry.Done = true;
                if (ReferenceEquals(_awaited, entry))
                {
                    wake = _frontDone;
                    _awaited = null;
                    _frontDone = null;
                }
            }

            wake?.TrySetResult();
        }
    }

    /// <summary>One input in flight and, once <see cref="Done"/>, what the function made of it.</summary>
    private sealed class Entry
    {
        public TIn Input = default!;
        public TOut Output = default!;
        public bool Keep;
        public ExceptionDispatchInfo? Failure;
        public bool Done;

        public void Reset(TIn input)
        {
            Input = input;
            Output = default!;
            Keep = false;
            Failure = null;
            Done = false;
        }

        public void Clear()
        {
            Input = default!;
            Output = default!;
            Failure = null;
        }
    }
}
