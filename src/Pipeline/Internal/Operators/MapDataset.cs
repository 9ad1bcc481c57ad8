using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>map</c>: one function applied to every element, on the consumer's thread (parallelism 1) or on up to
/// <c>parallelism</c> elements at once (<see cref="ParallelMapNode{TIn, TOut}"/>), in the input's order either way. The
/// state is the inputs read but not yet yielded (the format-2 in-flight section, empty and absent when nothing is in
/// flight), then the input's state; the parallelism is in neither, so a state restores at any parallelism.
/// </summary>
internal sealed class MapDataset<TIn, TOut>(Dataset<TIn> input, Func<TIn, TOut> selector, string? name, int parallelism) : Dataset<TOut>(input.Codecs)
{
    // A parallel map always holds inputs in flight: its codec is resolved now, so a missing one fails when the operator is added.
    private readonly IElementCodec<TIn>? _inputCodec = parallelism > 1 ? input.ResolveCodec("map") : null;

    internal override StructureNode Describe() => StructureNode.Create(
        "map",
        name is null ? [] : [StructureParameter.Of("name", name)],
        input.Describe());

    internal override Node<TOut> CreateNode(IterationContext context) => parallelism > 1
        ? new ParallelMapNode<TIn, TOut>(input.CreateNode(context), Apply, parallelism, _inputCodec!)
        : new MapNode(input.CreateNode(context), selector, InputCodec);

    private IElementCodec<TIn> InputCodec() => _inputCodec ?? input.ResolveCodec("map");

    private bool Apply(TIn value, out TOut result)
    {
        result = selector(value);
        return true;
    }

    private sealed class MapNode(Node<TIn> inner, Func<TIn, TOut> selector, Func<IElementCodec<TIn>> inputCodec) : UnaryNode<TIn, TOut>(inner)
    {
        // The fast path asks the input for no more than it was asked for, and maps all it got: when TIn is TOut in place in
        // the caller's destination, otherwise through _inputs. _inputs[_next.._end) are inputs read but not mapped yet:
        // part of a chunk, or what is left after the selector failed part-way (or was restored), mapped before anything
        // more is read, and saved in the state.
        private TIn[] _inputs = [];
        private int _next;
        private int _end;

        // How far the in-place loop got: one past the element being mapped.
        private int _mapped;
        private ExceptionDispatchInfo? _failure;

        public override int ReadAvailable(Span<TOut> destination)
        {
            int written = 0;
            while (written < destination.Length && _failure is null)
            {
                if (_next < _end)
                {
                    written += MapPending(destination[written..]);
                    continue;
                }

                int asked;
                int read;
                if (typeof(TIn) == typeof(TOut))
                {
                    Span<TIn> window = Unsafe.As<Span<TOut>, Span<TIn>>(ref destination)[written..];
                    asked = window.Length;
                    read = Input.ReadAvailable(window);
                    written += MapInPlace(window[..read]);
                }
                else
                {
                    asked = Math.Min(destination.Length - written, FastPath.MaxChunk);
                    if (_inputs.Length < asked)
                    {
                        _inputs = new TIn[Math.Max(asked, Math.Min(_inputs.Length * 2, FastPath.MaxChunk))];
                    }

                    read = Input.ReadAvailable(_inputs.AsSpan(0, asked));
                    _next = 0;
                    _end = read;
                    written += MapPending(destination[written..]);
                }

                if (read < asked)
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
            TIn[] pending = _inputs.AsSpan(_next, _end - _next).ToArray();
            StateWrite inFlight = ElementSection.CaptureInFlight(context, pending, inputCodec);
            StateWrite inputState = Input.Capture(context);
            return async (writer, cancellationToken) =>
            {
                await inFlight(writer, cancellationToken).ConfigureAwait(false);
                await inputState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _inputs = await ElementSection.ReadInFlightAsync(reader, inputCodec, "the map's inputs in flight", cancellationToken).ConfigureAwait(false);
            _next = 0;
            _end = _inputs.Length;
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            FastPath.ThrowPending(ref _failure);
            if (_next < _end)
            {
                TIn pending = _inputs[_next++];
                Current = selector(pending);
                return true;
            }

            if (!await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = selector(Input.Current);
            return true;
        }

        /// <summary>Maps inputs from <see cref="_inputs"/> into <paramref name="destination"/>, as many as fit; returns how many.</summary>
        private int MapPending(Span<TOut> destination)
        {
            int start = _next;
            try
            {
                return MapPendingLoop(destination);
            }
            catch (Exception ex)
            {
                // _next is past the input the selector failed on: it counts as consumed, as in MoveNextAsync.
                _failure = ExceptionDispatchInfo.Capture(ex);
                return _next - start - 1;
            }
            finally
            {
                if (_next == _end)
                {
                    FastPath.Clear(_inputs, _end);
                }
            }
        }

        /// <summary>Maps <paramref name="window"/> in place (<typeparamref name="TIn"/> is <typeparamref name="TOut"/>); returns how many it mapped.</summary>
        private int MapInPlace(Span<TIn> window)
        {
            try
            {
                MapInPlaceLoop(window);
                return window.Length;
            }
            catch (Exception ex)
            {
                // _mapped is past the element the selector failed on: it counts as consumed, as in MoveNextAsync; the rest
                // wait in _inputs.
                _failure = ExceptionDispatchInfo.Capture(ex);
                _inputs = window[_mapped..].ToArray();
                _next = 0;
                _end = _inputs.Length;
                return _mapped - 1;
            }
        }

        // The loops have no try block of their own, and are not inlined into one, which would keep their counters out of
        // registers; they record their progress in a field instead (_next, _mapped), one past the element being mapped.
        [MethodImpl(MethodImplOptions.NoInlining)]
        private int MapPendingLoop(Span<TOut> destination)
        {
            int start = _next;
            ReadOnlySpan<TIn> inputs = _inputs.AsSpan(start, Math.Min(_end - start, destination.Length));
            for (int i = 0; i < inputs.Length; i++)
            {
                _next = start + i + 1;
                destination[i] = selector(inputs[i]);
            }

            return inputs.Length;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private void MapInPlaceLoop(Span<TIn> window)
        {
            for (int i = 0; i < window.Length; i++)
            {
                _mapped = i + 1;

                // TIn is TOut: the casts cost nothing.
                window[i] = (TIn)(object)selector(window[i])!;
            }
        }
    }
}
