using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using InputPipeline.Checkpointing.Pipeline.Codecs;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

internal sealed class BatchDataset<T>(Dataset<T> input, int size, bool dropRemainder, IElementCodec<T> codec) : Dataset<T[]>(input.Codecs)
{
    internal override IElementCodec<T[]>? DerivedCodec => new ArrayCodec<T>(codec);

    internal override StructureNode Describe() => StructureNode.Create(
        "batch",
        [StructureParameter.Of("size", size), StructureParameter.Of("drop", dropRemainder), StructureParameter.Of("codec", codec.Name)],
        input.Describe());

    internal override Node<T[]> CreateNode(IterationContext context) => new BatchNode(input.CreateNode(context), size, dropRemainder, codec);

    /// <summary>Keeps the elements of a batch in progress across a cancelled call, and in the state.</summary>
    private sealed class BatchNode(Node<T> inner, int size, bool dropRemainder, IElementCodec<T> codec) : Node<T[]>
    {
        // The batch in progress: its first _filled elements. The input's fast path writes straight into it, asked for
        // no more than the batch still misses; a full batch is handed out as it is.
        private T[]? _batch;
        private int _filled;
        private bool _inputEnded;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (TryFillAvailable(out T[]? batch))
            {
                Current = batch;
                return ValueTask.FromResult(true);
            }

            return MoveNextSlowAsync(cancellationToken);
        }

        public override int ReadAvailable(Span<T[]> destination)
        {
            int written = 0;
            while (written < destination.Length && TryFillAvailable(out T[]? batch))
            {
                destination[written++] = batch;
            }

            if (written > 0)
            {
                Current = destination[written - 1];
            }

            return written;
        }

        /// <summary>Fills the batch in progress from the input's fast path and hands it out when that completes it.</summary>
        private bool TryFillAvailable([NotNullWhen(true)] out T[]? full)
        {
            full = null;
            if (_inputEnded)
            {
                return false;
            }

            T[] batch = _batch ?? new T[size];
            _filled += inner.ReadAvailable(batch.AsSpan(_filled));
            if (_filled < size)
            {
                _batch = batch;
                return false;
            }

            _batch = null;
            _filled = 0;
            full = batch;
            return true;
        }

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (!_inputEnded && _filled < size)
            {
                T[] batch = _batch ??= new T[size];
                _filled += inner.ReadAvailable(batch.AsSpan(_filled));
                if (_filled == size)
                {
                    break;
                }

                if (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    batch[_filled++] = inner.Current;
                }
                else
                {
                    _inputEnded = true;
                }
            }

            if (_filled == 0 || (_filled < size && dropRemainder))
            {
                if (_batch is not null)
                {
                    Array.Clear(_batch);
                }

                _filled = 0;
                return false;
            }

            Current = _filled == size ? _batch! : _batch.AsSpan(0, _filled).ToArray();
            _batch = null;
            _filled = 0;
            return true;
        }

        public override StateWrite Capture()
        {
            T[] pending = _batch.AsSpan(0, _filled).ToArray();
            bool inputEnded = _inputEnded;
            StateWrite innerState = inner.Capture();
            return async (writer, cancellationToken) =>
            {
                writer.WriteBool(inputEnded);
                writer.WriteInt32(pending.Length);
                foreach (T element in pending)
                {
                    writer.WriteElement(codec, element);
                    await writer.MaybeFlushAsync(cancellationToken).ConfigureAwait(false);
                }

                await innerState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _inputEnded = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            int count = await reader.ReadInt32Async(0, size - 1, "the size of the batch in progress", cancellationToken).ConfigureAwait(false);
            _batch = count == 0 ? null : new T[size];
            for (int i = 0; i < count; i++)
            {
                _batch![i] = await reader.ReadElementAsync(codec, cancellationToken).ConfigureAwait(false);
            }

            _filled = count;

            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class ShuffleDataset<T>(Dataset<T> input, int bufferSize, ulong seed, bool reshuffle, IElementCodec<T> codec) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "shuffle",
        [
            StructureParameter.Of("buffer", bufferSize),
            StructureParameter.Of("seed", seed),
            StructureParameter.Of("reshuffle", reshuffle),
            StructureParameter.Of("codec", codec.Name),
        ],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) =>
        new ShuffleNode(input.CreateNode(context), bufferSize, codec, new Xoshiro256StarStar(reshuffle ? seed ^ context.Salt : seed));

    /// <summary>tf.data's shuffle: fill the buffer, draw a uniform slot, output it and put the last element in its place.</summary>
    private sealed class ShuffleNode(Node<T> inner, int bufferSize, IElementCodec<T> codec, Xoshiro256StarStar random) : Node<T>
    {
        private const int MinFillChunk = 256;
        private readonly List<T> _buffer = [];
        private Xoshiro256StarStar _random = random;
        private bool _inputEnded;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        public override int ReadAvailable(Span<T> destination)
        {
            int written = 0;
            while (written < destination.Length)
            {
                int count = _buffer.Count;
                if (!_inputEnded && count == bufferSize - 1)
                {
                    // Steady state: every output first takes one input into the one free slot, so the inputs of all the
                    // outputs asked for are read straight into destination (no more than that: nothing read ahead), and
                    // each is then swapped with its draw. Drawing the free slot itself outputs the new input.
                    Span<T> window = destination[written..];
                    int read = inner.ReadAvailable(window);
                    _random = DrawInto(window[..read], CollectionsMarshal.AsSpan(_buffer), _random);
                    written += read;
                    if (read < window.Length)
                    {
                        break;
                    }
                }
                else if (!_inputEnded && count < bufferSize)
                {
                    // Filling, as MoveNextAsync does before its draw: straight into the list, in growing chunks.
                    int want = Math.Min(bufferSize - count, Math.Max(count, MinFillChunk));
                    if (_buffer.Capacity < count + want)
                    {
                        // Grows by doubling, but to no more than the buffer needs.
                        _buffer.Capacity = Math.Min(bufferSize, Math.Max(count + want, 2 * _buffer.Capacity));
                    }

                    CollectionsMarshal.SetCount(_buffer, count + want);
                    int read = inner.ReadAvailable(CollectionsMarshal.AsSpan(_buffer).Slice(count, want));
                    CollectionsMarshal.SetCount(_buffer, count + read);
                    if (read < want)
                    {
                        break;
                    }
                }
                else if (count > 0)
                {
                    destination[written++] = Draw();
                }
                else
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
            while (!_inputEnded && _buffer.Count < bufferSize)
            {
                if (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    _buffer.Add(inner.Current);
                }
                else
                {
                    _inputEnded = true;
                }
            }

            if (_buffer.Count == 0)
            {
                return false;
            }

            Current = Draw();
            return true;
        }

        /// <summary>
        /// The steady state's draws: <paramref name="items"/> is the full buffer but its last slot, and each element of
        /// <paramref name="window"/> goes into that slot and is replaced by the draw from the whole buffer.
        /// </summary>
        /// <returns>The generator after the draws.</returns>
        [MethodImpl(MethodImplOptions.NoInlining)] // A frame of its own keeps the generator's words in registers.
        private static Xoshiro256StarStar DrawInto(Span<T> window, Span<T> items, Xoshiro256StarStar generator)
        {
            // All in locals and registers, written back once by the caller.
            int bound = items.Length + 1;
            for (int i = 0; i < window.Length; i++)
            {
                int slot = generator.NextBelow(bound);
                if ((uint)slot < (uint)items.Length)
                {
                    (window[i], items[slot]) = (items[slot], window[i]);
                }
            }

            return generator;
        }

        private T Draw()
        {
            int slot = _random.NextBelow(_buffer.Count);
            T drawn = _buffer[slot];
            int last = _buffer.Count - 1;
            _buffer[slot] = _buffer[last];
            _buffer.RemoveAt(last);
            return drawn;
        }

        public override StateWrite Capture()
        {
            // Copies references only; the elements are serialised later, streamed chunk by chunk.
            T[] buffer = [.. _buffer];
            (ulong s0, ulong s1, ulong s2, ulong s3) = _random.State;
            bool inputEnded = _inputEnded;
            StateWrite innerState = inner.Capture();
            return async (writer, cancellationToken) =>
            {
                writer.WriteUInt64(s0);
                writer.WriteUInt64(s1);
                writer.WriteUInt64(s2);
                writer.WriteUInt64(s3);
                writer.WriteBool(inputEnded);
                writer.WriteInt32(buffer.Length);
                foreach (T element in buffer)
                {
                    writer.WriteElement(codec, element);
                    await writer.MaybeFlushAsync(cancellationToken).ConfigureAwait(false);
                }

                await innerState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            var random = new Xoshiro256StarStar(
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false),
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false),
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false),
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false));
            if (!random.IsValid)
            {
                throw new StateCorruptException("the shuffle's random generator state is all zero.");
            }

            _random = random;
            _inputEnded = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            int count = await reader.ReadInt32Async(0, bufferSize, "the shuffle buffer's size", cancellationToken).ConfigureAwait(false);
            _buffer.Clear();
            for (int i = 0; i < count; i++)
            {
                _buffer.Add(await reader.ReadElementAsync(codec, cancellationToken).ConfigureAwait(false));
            }

            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class RepeatDataset<T>(Dataset<T> input, int? count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "repeat",
        [StructureParameter.Of("count", count is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "forever")],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new RepeatNode(input, count, context);

    /// <summary>Runs a fresh input node per epoch; an epoch without elements ends the repetition.</summary>
    private sealed class RepeatNode(Dataset<T> input, int? count, IterationContext context) : Node<T>
    {
        private long _epoch;
        private bool _producedThisEpoch;
        private bool _ended;
        private Node<T>? _inner;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        /// <summary>Reads within the current epoch; starting and ending epochs is left to <see cref="MoveNextAsync"/>.</summary>
        public override int ReadAvailable(Span<T> destination)
        {
            if (_inner is null)
            {
                return 0;
            }

            int read = _inner.ReadAvailable(destination);
            if (read > 0)
            {
                _producedThisEpoch = true;
                Current = destination[read - 1];
            }

            return read;
        }

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (!_ended)
            {
                if (count is { } limit && _epoch >= limit)
                {
                    _ended = true;
                    break;
                }

                _inner ??= input.CreateNode(context.Derive(SaltTags.RepeatEpoch, _epoch));
                if (await _inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    _producedThisEpoch = true;
                    Current = _inner.Current;
                    return true;
                }

                Node<T> finished = _inner;
                _inner = null;
                await finished.DisposeAsync().ConfigureAwait(false);
                if (!_producedThisEpoch)
                {
                    _ended = true;
                    break;
                }

                _epoch++;
                _producedThisEpoch = false;
            }

            return false;
        }

        public override StateWrite Capture()
        {
            long epoch = _epoch;
            bool produced = _producedThisEpoch;
            bool ended = _ended;
            StateWrite? innerState = _inner?.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(epoch);
                writer.WriteBool(produced);
                writer.WriteBool(ended);
                writer.WriteBool(innerState is not null);
                return innerState is null ? ValueTask.CompletedTask : innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _epoch = await reader.ReadInt64Async(0, count ?? long.MaxValue, "the epoch", cancellationToken).ConfigureAwait(false);
            _producedThisEpoch = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            _ended = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false))
            {
                _inner = input.CreateNode(context.Derive(SaltTags.RepeatEpoch, _epoch));
                await _inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
            }
        }

        protected override async ValueTask ReleaseAsync()
        {
            if (_inner is not null)
            {
                await _inner.DisposeAsync().ConfigureAwait(false);
                _inner = null;
            }
        }
    }
}
