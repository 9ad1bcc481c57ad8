using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// tf.data's interleave, read on the consumer's thread (parallelism 1) or with the open datasets read ahead concurrently
/// (see <see cref="InterleaveNode"/>), in the same order either way. The state holds the input's state, the cycle
/// position, and for every open slot the input element that opened it, the opened dataset's structure (compared again on
/// restore), the elements read ahead from it (the format-2 in-flight section) and its node's state.
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

    // Elements read ahead are saved through it: resolved now for a parallel interleave, which always has some.
    private readonly IElementCodec<TOut>? _outputCodec;

    public InterleaveDataset(Dataset<T> input, Func<T, Dataset<TOut>> open, int cycleLength, int blockLength, int parallelism, string? name, IElementCodec<T> codec)
        : base(input.Codecs)
    {
        _input = input;
        _open = open;
        _cycleLength = cycleLength;
        _blockLength = blockLength;
        _parallelism = parallelism;
        _name = name;
        _codec = codec;
        _outputCodec = parallelism > 1 ? OutputCodec() : null;
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

    private IElementCodec<TOut> OutputCodec() =>
        _outputCodec ?? (Codecs.TryGetCodec(out IElementCodec<TOut>? codec) ? codec : throw new ElementCodecNotFoundException(typeof(TOut), "interleave"));

    private sealed class Slot(T element, long ordinal, Node<TOut> node, byte[] structure)
    {
        public T Element { get; } = element;

        public long Ordinal { get; } = ordinal;

        public Node<TOut> Node { get; } = node;

        public byte[] Structure { get; } = structure;

        /// <summary>Gets or sets the reader that reads the node ahead (parallel mode only).</summary>
        public BackgroundReader<TOut>? Reader { get; set; }

        /// <summary>Gets elements restored as read ahead, yielded before the node's next ones (sequential mode).</summary>
        public Queue<TOut> Restored { get; } = new();
    }

    /// <summary>
    /// The sequential algorithm, plus, in parallel mode, two things that change when work is done but not its order:
    /// every slot's dataset is read ahead by a <see cref="BackgroundReader{T}"/> (at most <c>parallelism</c> of them inside
    /// their dataset at once), and a free slot is opened at once rather than when the cycle comes to it. Opening the free
    /// slots in the order the cycle visits them gives each the input element the sequential algorithm would give it; a
    /// failure to read the input is kept for the slot the cycle would have read it for, so it surfaces where it would.
    /// </summary>
    private sealed class InterleaveNode(InterleaveDataset<T, TOut> owner, Node<T> input, IterationContext context) : Node<TOut>
    {
        private readonly Slot?[] _slots = new Slot?[owner._cycleLength];
        private readonly SemaphoreSlim? _limiter = owner._parallelism > 1 ? new SemaphoreSlim(owner._parallelism, owner._parallelism) : null;
        private int _cycleIndex;
        private int _blockIndex;
        private bool _endOfInput;
        private int _open;
        private long _nextOrdinal;

        // A failure to read the input while opening slots ahead, and the slot whose opening it belongs to.
        private ExceptionDispatchInfo? _openFailure;
        private int _openFailureSlot;

        private bool Parallel => _limiter is not null;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                if (Parallel)
                {
                    await OpenFreeSlotsAsync(cancellationToken).ConfigureAwait(false);
                }

                if (_endOfInput && _open == 0)
                {
                    return false;
                }

                Slot? slot = _slots[_cycleIndex];
                if (slot is not null)
                {
                    if (await MoveNextAsync(slot, cancellationToken).ConfigureAwait(false))
                    {
                        if (++_blockIndex == owner._blockLength)
                        {
                            AdvanceCycle();
                        }

                        return true;
                    }

                    _slots[_cycleIndex] = null;
                    _open--;
                    await CloseAsync(slot).ConfigureAwait(false);
                    AdvanceCycle();
                }
                else if (_openFailure is not null && _openFailureSlot == _cycleIndex)
                {
                    ExceptionDispatchInfo failure = _openFailure;
                    _openFailure = null;
                    failure.Throw();
                }
                else if (!_endOfInput)
                {
                    await OpenAsync(_cycleIndex, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    AdvanceCycle();
                }
            }
        }

        public override StateWrite Capture(CaptureContext context)
        {
            // Parallel mode: every reader leaves its dataset (a read under way is cancelled, and taken up again later), so
            // each dataset's state and the elements read ahead from it are at the same element boundary.
            foreach (Slot? slot in _slots)
            {
                slot?.Reader?.Pause();
            }

            try
            {
                foreach (Slot? slot in _slots)
                {
                    slot?.Reader?.WaitPaused();
                }

                return CaptureWhilePaused(context);
            }
            finally
            {
                foreach (Slot? slot in _slots)
                {
                    slot?.Reader?.Resume();
                }
            }
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

                TOut[] readAhead = await ElementSection.ReadInFlightAsync(reader, owner.OutputCodec, "the elements read ahead from an interleaved dataset", cancellationToken).ConfigureAwait(false);
                Slot slot = Open(element, ordinal, out StructureNode current);
                _slots[i] = slot;
                _open++;
                if (slot.Reader is { } background)
                {
                    background.Preload(readAhead);
                }
                else
                {
                    foreach (TOut item in readAhead)
                    {
                        slot.Restored.Enqueue(item);
                    }
                }

                string? difference = StructureNode.FindDifference(saved, current);
                if (difference is not null)
                {
                    throw new StructureMismatchException($"the dataset interleave opened for element {ordinal} ({Show(element)}) differs: {difference}");
                }

                await slot.Node.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
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
                    await CloseAsync(slot).ConfigureAwait(false);
                }
            }

            await input.DisposeAsync().ConfigureAwait(false);
            _limiter?.Dispose();
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

        private static async ValueTask CloseAsync(Slot slot)
        {
            if (slot.Reader is not null)
            {
                await slot.Reader.DisposeAsync().ConfigureAwait(false);
            }

            await slot.Node.DisposeAsync().ConfigureAwait(false);
        }

        private StateWrite CaptureWhilePaused(CaptureContext context)
        {
            StateWrite inputState = input.Capture(context);
            int cycleIndex = _cycleIndex;
            int blockIndex = _blockIndex;
            bool endOfInput = _endOfInput;
            long nextOrdinal = _nextOrdinal;
            var slots = new (Slot Slot, StateWrite ReadAhead, StateWrite State)?[_slots.Length];
            for (int i = 0; i < _slots.Length; i++)
            {
                if (_slots[i] is { } slot)
                {
                    TOut[] readAhead = slot.Reader?.Buffered() ?? [.. slot.Restored];
                    slots[i] = (slot, ElementSection.CaptureInFlight(context, readAhead, owner.OutputCodec), slot.Node.Capture(context));
                }
            }

            IElementCodec<T> codec = owner._codec;
            return async (writer, cancellationToken) =>
            {
                writer.WriteInt32(cycleIndex);
                writer.WriteInt32(blockIndex);
                writer.WriteBool(endOfInput);
                writer.WriteInt64(nextOrdinal);
                foreach ((Slot Slot, StateWrite ReadAhead, StateWrite State)? entry in slots)
                {
                    writer.WriteBool(entry is not null);
                    if (entry is { } present)
                    {
                        writer.WriteElement(codec, present.Slot.Element);
                        writer.WriteInt64(present.Slot.Ordinal);
                        writer.WriteBlob(present.Slot.Structure);
                        await present.ReadAhead(writer, cancellationToken).ConfigureAwait(false);
                        await present.State(writer, cancellationToken).ConfigureAwait(false);
                    }
                }

                await inputState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        /// <summary>Moves a slot to its next element (then <see cref="Node{T}.Current"/>): restored elements first, then its reader or its node.</summary>
        private async ValueTask<bool> MoveNextAsync(Slot slot, CancellationToken cancellationToken)
        {
            if (slot.Restored.Count > 0)
            {
                Current = slot.Restored.Dequeue();
                return true;
            }

            if (slot.Reader is { } reader)
            {
                if (!await reader.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                Current = reader.Current;
                return true;
            }

            if (!await slot.Node.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = slot.Node.Current;
            return true;
        }

        /// <summary>Opens the next input element into slot <paramref name="index"/>, or marks the end of the input.</summary>
        private async ValueTask OpenAsync(int index, CancellationToken cancellationToken)
        {
            if (await input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                _slots[index] = Open(input.Current, _nextOrdinal++, out _);
                _open++;
            }
            else
            {
                _endOfInput = true;
            }
        }

        /// <summary>Parallel mode: opens every free slot, in the order the cycle visits them from where it is, and starts the readers.</summary>
        private async ValueTask OpenFreeSlotsAsync(CancellationToken cancellationToken)
        {
            for (int k = 0; k < _slots.Length && !_endOfInput && _openFailure is null; k++)
            {
                int index = (_cycleIndex + k) % _slots.Length;
                if (_slots[index] is not null)
                {
                    continue;
                }

                try
                {
                    await OpenAsync(index, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // Surfaces when the cycle comes to this slot, where the sequential interleave reads the input for it.
                    _openFailure = ExceptionDispatchInfo.Capture(ex);
                    _openFailureSlot = index;
                }
            }

            foreach (Slot? slot in _slots)
            {
                slot?.Reader?.Start();
            }
        }

        private Slot Open(T element, long ordinal, out StructureNode structure)
        {
            Dataset<TOut> dataset = owner._open(element)
                ?? throw new InvalidOperationException($"The interleave's open function returned null for element {ordinal} ({Show(element)}).");
            structure = dataset.Describe();
            Node<TOut> node = dataset.CreateNode(context.Derive(SaltTags.InterleaveElement, ordinal));
            return new Slot(element, ordinal, node, Encode(structure))
            {
                Reader = _limiter is null ? null : new BackgroundReader<TOut>(node, 2 * owner._blockLength, _limiter),
            };
        }

        private void AdvanceCycle()
        {
            _blockIndex = 0;
            _cycleIndex = (_cycleIndex + 1) % _slots.Length;
        }
    }
}
