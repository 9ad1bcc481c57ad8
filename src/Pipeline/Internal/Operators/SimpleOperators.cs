using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>A dataset with the same structure and nodes as its input, but other codecs for the operators added after it.</summary>
internal sealed class CodecScopeDataset<T>(Dataset<T> input, ElementCodecRegistry codecs, IElementCodec<T>? codec) : Dataset<T>(codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => input.Describe();

    internal override Node<T> CreateNode(IterationContext context) => input.CreateNode(context);

    internal override IElementCodec<T> ResolveCodec(string operatorName) => codec ?? base.ResolveCodec(operatorName);
}

internal sealed class MapDataset<TIn, TOut>(Dataset<TIn> input, Func<TIn, TOut> selector, string? name) : Dataset<TOut>(input.Codecs)
{
    internal override StructureNode Describe() => StructureNode.Create(
        "map",
        name is null ? [] : [StructureParameter.Of("name", name)],
        input.Describe());

    internal override Node<TOut> CreateNode(IterationContext context) => new MapNode(input.CreateNode(context), selector);

    private sealed class MapNode(Node<TIn> inner, Func<TIn, TOut> selector) : Node<TOut>
    {
        // The fast path asks the input for no more than it was asked for, and maps all it got: when TIn is TOut in place in
        // the caller's destination, otherwise through _inputs. _inputs[_next.._end) are inputs read but not mapped yet:
        // part of a chunk, or what is left after the selector failed part-way, mapped before anything more is read.
        private TIn[] _inputs = [];
        private int _next;
        private int _end;

        // How far the in-place loop got: one past the element being mapped.
        private int _mapped;
        private ExceptionDispatchInfo? _failure;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

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
                    read = inner.ReadAvailable(window);
                    written += MapInPlace(window[..read]);
                }
                else
                {
                    asked = Math.Min(destination.Length - written, FastPath.MaxChunk);
                    if (_inputs.Length < asked)
                    {
                        _inputs = new TIn[Math.Max(asked, Math.Min(_inputs.Length * 2, FastPath.MaxChunk))];
                    }

                    read = inner.ReadAvailable(_inputs.AsSpan(0, asked));
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

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            FastPath.ThrowPending(ref _failure);
            if (_next < _end)
            {
                TIn pending = _inputs[_next++];
                Current = selector(pending);
                return true;
            }

            if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = selector(inner.Current);
            return true;
        }

        public override StateWrite Capture() => inner.Capture();

        public override ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken) => inner.RestoreAsync(reader, cancellationToken);

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class FilterDataset<T>(Dataset<T> input, Func<T, bool> predicate, string? name) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "filter",
        name is null ? [] : [StructureParameter.Of("name", name)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new FilterNode(input.CreateNode(context), predicate);

    private sealed class FilterNode(Node<T> inner, Func<T, bool> predicate) : Node<T>
    {
        // Inputs read by the fast path but not tested yet, because the predicate failed part-way: _pending[_next..].
        private T[] _pending = [];
        private int _next;
        private ExceptionDispatchInfo? _failure;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

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
                int read = inner.ReadAvailable(window);
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

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
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

            while (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                T value = inner.Current;
                if (predicate(value))
                {
                    Current = value;
                    return true;
                }
            }

            return false;
        }

        public override StateWrite Capture() => inner.Capture();

        public override ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken) => inner.RestoreAsync(reader, cancellationToken);

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class TakeDataset<T>(Dataset<T> input, long count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("take", [StructureParameter.Of("count", count)], input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new TakeNode(input.CreateNode(context), count);

    private sealed class TakeNode(Node<T> inner, long count) : Node<T>
    {
        private long _taken;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        public override int ReadAvailable(Span<T> destination)
        {
            int want = (int)Math.Min(destination.Length, count - _taken);
            if (want <= 0)
            {
                return 0;
            }

            int read = inner.ReadAvailable(destination[..want]);
            _taken += read;
            if (read > 0)
            {
                Current = destination[read - 1];
            }

            return read;
        }

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            if (_taken >= count || !await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            _taken++;
            Current = inner.Current;
            return true;
        }

        public override StateWrite Capture()
        {
            long taken = _taken;
            StateWrite innerState = inner.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(taken);
                return innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _taken = await reader.ReadInt64Async(0, count, "the number taken", cancellationToken).ConfigureAwait(false);
            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class SkipDataset<T>(Dataset<T> input, long count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("skip", [StructureParameter.Of("count", count)], input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new SkipNode(input.CreateNode(context), count);

    private sealed class SkipNode(Node<T> inner, long count) : Node<T>
    {
        private long _skipped;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        public override int ReadAvailable(Span<T> destination)
        {
            // The skipped elements pass through destination, which the next read overwrites.
            while (_skipped < count && destination.Length > 0)
            {
                int want = (int)Math.Min(destination.Length, count - _skipped);
                int skipped = inner.ReadAvailable(destination[..want]);
                _skipped += skipped;
                if (skipped < want)
                {
                    return 0;
                }
            }

            int read = inner.ReadAvailable(destination);
            if (read > 0)
            {
                Current = destination[read - 1];
            }

            return read;
        }

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (_skipped < count)
            {
                if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                _skipped++;
            }

            if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = inner.Current;
            return true;
        }

        public override StateWrite Capture()
        {
            long skipped = _skipped;
            StateWrite innerState = inner.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(skipped);
                return innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _skipped = await reader.ReadInt64Async(0, count, "the number skipped", cancellationToken).ConfigureAwait(false);
            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class ShardDataset<T>(Dataset<T> input, int count, int index) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "shard",
        [StructureParameter.Of("count", count), StructureParameter.Of("index", index)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new ShardNode(input.CreateNode(context), count, index);

    private sealed class ShardNode(Node<T> inner, int count, int index) : Node<T>
    {
        // The position in the input of the next element the input yields.
        private long _position;

        // The fast path's inputs, most of which are not this worker's.
        private T[] _inputs = [];

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        public override int ReadAvailable(Span<T> destination)
        {
            int written = 0;
            while (written < destination.Length)
            {
                // Exactly the inputs up to and including the last element asked for: nothing read ahead.
                long toNext = (index - (_position % count) + count) % count;
                long needed = toNext + ((long)(destination.Length - written - 1) * count) + 1;
                int want = (int)Math.Min(needed, FastPath.MaxChunk);
                if (_inputs.Length < want)
                {
                    _inputs = new T[want];
                }

                Span<T> inputs = _inputs.AsSpan(0, want);
                int read = inner.ReadAvailable(inputs);
                for (int i = 0; i < read; i++)
                {
                    if (_position++ % count == index)
                    {
                        destination[written++] = inputs[i];
                    }
                }

                FastPath.Clear(_inputs, read);
                if (read < want)
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

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                long position = _position++;
                if (position % count == index)
                {
                    Current = inner.Current;
                    return true;
                }
            }

            return false;
        }

        public override StateWrite Capture()
        {
            long position = _position;
            StateWrite innerState = inner.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(position);
                return innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _position = await reader.ReadInt64Async(0, long.MaxValue, "the shard position", cancellationToken).ConfigureAwait(false);
            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

/// <summary>Helpers of the fast path (<see cref="Node{T}.ReadAvailable"/>).</summary>
internal static class FastPath
{
    /// <summary>The most an operator reads from its input into a buffer of its own at once.</summary>
    public const int MaxChunk = 1024;

    /// <summary>Throws, once, what a user function threw in the fast path.</summary>
    public static void ThrowPending(ref ExceptionDispatchInfo? failure)
    {
        if (failure is { } pending)
        {
            failure = null;
            pending.Throw();
        }
    }

    /// <summary>Lets go of the elements a buffer holds, so it does not keep them alive.</summary>
    public static void Clear<T>(T[] buffer, int count)
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(buffer, 0, count);
        }
    }
}
