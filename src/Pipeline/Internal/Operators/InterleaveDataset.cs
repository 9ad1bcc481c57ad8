namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// tf.data's (sequential) interleave. The state holds the input's state, the cycle position, and for every open slot the
/// input element that opened it, the opened dataset's structure (compared again on restore) and its node's state.
/// </summary>
internal sealed class InterleaveDataset<T, TOut> : Dataset<TOut>
{
    private readonly Dataset<T> _input;
    private readonly Func<T, Dataset<TOut>> _open;
    private readonly int _cycleLength;
    private readonly int _blockLength;
    private readonly int _parallelism;
    private readonly string? _name;
    private readonly IElementCodec<T> _codec;

    public InterleaveDataset(Dataset<T> input, Func<T, Dataset<TOut>> open, int cycleLength, int blockLength, int parallelism, string? name, IElementCodec<T> codec)
        : base(input.Codecs)
    {
        _parallelism = parallelism;
        _input = input;
        _open = open;
        _cycleLength = cycleLength;
        _blockLength = blockLength;
        _name = name;
        _codec = codec;
    }

    internal override StructureNode Describe()
    {
        var parameters = new List<StructureParameter>
        {
            StructureParameter.Of("cycle", _cycleLength),
            StructureParameter.Of("block", _blockLength),
            StructureParameter.Of("codec", _codec.Name),
        };
        if (_name is not null)
        {
            parameters.Add(StructureParameter.Of("name", _name));
        }

        return StructureNode.Create("interleave", parameters, _input.Describe());
    }

    internal override Node<TOut> CreateNode(IterationContext context) => new InterleaveNode(this, _input.CreateNode(context), context);

    private sealed class Slot(T element, long ordinal, Node<TOut> node, byte[] structure)
    {
        public T Element { get; } = element;

        public long Ordinal { get; } = ordinal;

        public Node<TOut> Node { get; } = node;

        public byte[] Structure { get; } = structure;
    }

    private sealed class InterleaveNode(InterleaveDataset<T, TOut> owner, Node<T> input, IterationContext context) : Node<TOut>
    {
        private readonly Slot?[] _slots = new Slot?[owner._cycleLength];
        private int _cycleIndex;
        private int _blockIndex;
        private bool _endOfInput;
        private int _open;
        private long _nextOrdinal;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (!_endOfInput || _open > 0)
            {
                Slot? slot = _slots[_cycleIndex];
                if (slot is not null)
                {
                    if (await slot.Node.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                    {
                        Current = slot.Node.Current;
                        if (++_blockIndex == owner._blockLength)
                        {
                            AdvanceCycle();
                        }

                        return true;
                    }

                    _slots[_cycleIndex] = null;
                    _open--;
                    await slot.Node.DisposeAsync().ConfigureAwait(false);
                    AdvanceCycle();
                }
                else if (!_endOfInput)
                {
                    if (await input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                    {
                        T element = input.Current;
                        long ordinal = _nextOrdinal++;
                        (Node<TOut> node, StructureNode structure) = Open(element, ordinal);
                        _slots[_cycleIndex] = new Slot(element, ordinal, node, Encode(structure));
                        _open++;
                    }
                    else
                    {
                        _endOfInput = true;
                    }
                }
                else
                {
                    AdvanceCycle();
                }
            }

            return false;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            StateWrite inputState = input.Capture(context);
            int cycleIndex = _cycleIndex;
            int blockIndex = _blockIndex;
            bool endOfInput = _endOfInput;
            long nextOrdinal = _nextOrdinal;
            var slots = new (Slot Slot, StateWrite State)?[_slots.Length];
            for (int i = 0; i < _slots.Length; i++)
            {
                if (_slots[i] is { } slot)
                {
                    slots[i] = (slot, slot.Node.Capture(context));
                }
            }

            IElementCodec<T> codec = owner._codec;
            return async (writer, cancellationToken) =>
            {
                writer.WriteInt32(cycleIndex);
                writer.WriteInt32(blockIndex);
                writer.WriteBool(endOfInput);
                writer.WriteInt64(nextOrdinal);
                foreach ((Slot Slot, StateWrite State)? entry in slots)
                {
                    writer.WriteBool(entry is not null);
                    if (entry is { } present)
                    {
                        writer.WriteElement(codec, present.Slot.Element);
                        writer.WriteInt64(present.Slot.Ordinal);
                        writer.WriteBlob(present.Slot.Structure);
                        await present.State(writer, cancellationToken).ConfigureAwait(false);
                    }
                }

                await inputState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _cycleIndex = await reader.ReadInt32Async(0, _slots.Length - 1, "the interleave cycle index", cancellationToken).ConfigureAwait(false);
            _blockIndex = await reader.ReadInt32Async(0, owner._blockLength - 1, "the interleave block index", cancellationToken).ConfigureAwait(false);
            _endOfInput = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            _nextOrdinal = await reader.ReadInt64Async(0, long.MaxValue, "the interleave element count", cancellationToken).ConfigureAwait(false);
            _open = 0;
            for (int i = 0; i < _slots.Length; i++)
            {
                if (!await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false))
                {
                    continue;
                }

                T element = await reader.ReadElementAsync(owner._codec, cancellationToken).ConfigureAwait(false);
                long ordinal = await reader.ReadInt64Async(0, _nextOrdinal - 1, "an interleaved element's ordinal", cancellationToken).ConfigureAwait(false);
                byte[] savedBytes = await reader.ReadBlobAsync(64 * 1024 * 1024, "an interleaved dataset's structure", cancellationToken).ConfigureAwait(false);
                StructureNode saved;
                using (var structureReader = new StateReader(new MemoryStream(savedBytes, writable: false)))
                {
                    saved = await StructureNode.ReadAsync(structureReader, cancellationToken).ConfigureAwait(false);
                }

                (Node<TOut> node, StructureNode current) = Open(element, ordinal);
                _slots[i] = new Slot(element, ordinal, node, Encode(current));
                _open++;
                string? difference = StructureNode.FindDifference(saved, current);
                if (difference is not null)
                {
                    throw new StructureMismatchException($"the dataset interleave opened for element {ordinal} ({Show(element)}) differs: {difference}");
                }

                await node.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
            }

            await input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask ReleaseAsync()
        {
            for (int i = 0; i < _slots.Length; i++)
            {
                if (_slots[i] is { } slot)
                {
                    _slots[i] = null;
                    await slot.Node.DisposeAsync().ConfigureAwait(false);
                }
            }

            await input.DisposeAsync().ConfigureAwait(false);
        }

        private static byte[] Encode(StructureNode structure)
        {
            using var writer = new StateWriter(Stream.Null);
            structure.Write(writer);
            return writer.Buffered.ToArray();
        }

        private static string Show(T element)
        {
            string text = element?.ToString() ?? "null";
            return text.Length > 200 ? text[..200] + "…" : text;
        }

        private (Node<TOut> Node, StructureNode Structure) Open(T element, long ordinal)
        {
            Dataset<TOut> dataset = owner._open(element)
                ?? throw new InvalidOperationException($"The interleave's open function returned null for element {ordinal} ({Show(element)}).");
            return (dataset.CreateNode(context.Derive(SaltTags.InterleaveElement, ordinal)), dataset.Describe());
        }

        private void AdvanceCycle()
        {
            _blockIndex = 0;
            _cycleIndex = (_cycleIndex + 1) % _slots.Length;
        }
    }
}
