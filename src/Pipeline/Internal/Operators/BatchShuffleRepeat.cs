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
        private readonly List<T> _pending = [];
        private bool _inputEnded;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (!_inputEnded && _pending.Count < size)
            {
                if (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    _pending.Add(inner.Current);
                }
                else
                {
                    _inputEnded = true;
                }
            }

            if (_pending.Count == 0 || (_pending.Count < size && dropRemainder))
            {
                _pending.Clear();
                return false;
            }

            Current = [.. _pending];
            _pending.Clear();
            return true;
        }

        public override StateWrite Capture()
        {
            T[] pending = [.. _pending];
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
            _pending.Clear();
            for (int i = 0; i < count; i++)
            {
                _pending.Add(await reader.ReadElementAsync(codec, cancellationToken).ConfigureAwait(false));
            }

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
        private readonly List<T> _buffer = [];
        private Xoshiro256StarStar _random = random;
        private bool _inputEnded;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
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

            int slot = _random.NextBelow(_buffer.Count);
            Current = _buffer[slot];
            int last = _buffer.Count - 1;
            _buffer[slot] = _buffer[last];
            _buffer.RemoveAt(last);
            return true;
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

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
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
