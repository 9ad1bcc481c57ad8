using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>filter</c>: keeps the elements a predicate accepts, testing on the consumer's thread (parallelism 1) or up to
/// <c>parallelism</c> elements at once (<see cref="ParallelMapNode{TIn, TOut}"/>), in the input's order either way. The
/// state is the inputs read but not yet tested (the format-2 in-flight section), then the input's state.
/// </summary>
internal sealed class FilterDataset<T>(Dataset<T> input, Func<T, bool> predicate, string? name, int parallelism) : Dataset<T>(input.Codecs)
{
    private readonly IElementCodec<T>? _codec = parallelism > 1 ? input.ResolveCodec("filter") : null;

    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "filter",
        name is null ? [] : [StructureParameter.Of("name", name)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => parallelism > 1
        ? new ParallelMapNode<T, T>(input.CreateNode(context), Apply, parallelism, _codec!)
        : new FilterNode(input.CreateNode(context), predicate, Codec);

    private IElementCodec<T> Codec() => _codec ?? input.ResolveCodec("filter");

    private bool Apply(T value, out T result)
    {
        result = value;
        return predicate(value);
    }

    private sealed class FilterNode(Node<T> inner, Func<T, bool> predicate, Func<IElementCodec<T>> codec) : UnaryNode<T, T>(inner)
    {
        // Inputs read but not tested yet, because the predicate failed part-way inside a bulk read (or restored): _pending[_next..].
        private T[] _pending = [];
        private int _next;
        private ExceptionDispatchInfo? _failure;

        public override int ReadAvailable(Span<T> destination)
        {
            int written = 0;
            while (_next < _pending.Length && written < destination.Length && _failure is null)
            {
                // The input counts as consumed before the predicate runs, as in MoveNextAsync.
                T value = _pending[_next++];
                if (Test(value))
                {
                    destination[written++] = value;
                }
            }

            if (_next == _pending.Length)
            {
                _pending = [];
                _next = 0;
            }

            // Each output takes at least one input, so asking for as many inputs as outputs still missing reads nothing
            // ahead. The inputs land in the window and the kept ones are moved down in place.
            while (written < destination.Length && _failure is null)
            {
                Span<T> window = destination[written..];
                int read = Input.ReadAvailable(window);
                int i = 0;
                try
                {
                    while (i < read)
                    {
                        T value = window[i++];
                        if (predicate(value))
                        {
                            destination[written++] = value;
                        }
                    }
                }
                catch (Exception ex)
                {
                    _failure = ExceptionDispatchInfo.Capture(ex);
                    _pending = window[i..read].ToArray();
                    _next = 0;
                }

                if (read < window.Length)
                {
                    break;
                }
            }

            if (written > 0)
            {
                Current = destination[written - 1];
            }

            return written;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            T[] pending = _pending.AsSpan(_next).ToArray();
            StateWrite inFlight = ElementSection.CaptureInFlight(context, pending, codec);
            StateWrite inputState = Input.Capture(context);
            return async (writer, cancellationToken) =>
            {
                await inFlight(writer, cancellationToken).ConfigureAwait(false);
                await inputState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _pending = await ElementSection.ReadInFlightAsync(reader, codec, "the filter's inputs in flight", cancellationToken).ConfigureAwait(false);
            _next = 0;
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            FastPath.ThrowPending(ref _failure);
            while (_next < _pending.Length)
            {
                T value = _pending[_next++];
                if (predicate(value))
                {
                    Current = value;
                    return true;
                }
            }

            while (await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                T value = Input.Current;
                if (predicate(value))
                {
                    Current = value;
                    return true;
                }
            }

            return false;
        }

        private bool Test(T value)
        {
            try
            {
                return predicate(value);
            }
            catch (Exception ex)
            {
                _failure = ExceptionDispatchInfo.Capture(ex);
                return false;
            }
        }
    }
}
