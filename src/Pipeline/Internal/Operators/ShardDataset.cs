namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>shard</c>: the elements at positions <c>index</c>, <c>index + count</c>, … of the input. The state is the input
/// position, then the input's state.
/// </summary>
internal sealed class ShardDataset<T>(Dataset<T> input, int count, int index) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "shard",
        [StructureParameter.Of("count", count), StructureParameter.Of("index", index)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new ShardNode(input.CreateNode(context), count, index);

    private sealed class ShardNode(Node<T> inner, int count, int index) : UnaryNode<T, T>(inner)
    {
        // The position in the input of the next element the input yields.
        private long _position;

        // The fast path's inputs, most of which are not this worker's.
        private T[] _inputs = [];

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
                int read = Input.ReadAvailable(inputs);
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

        public override StateWrite Capture(CaptureContext context)
        {
            long position = _position;
            return Then(writer => writer.WriteInt64(position), Input.Capture(context));
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _position = await reader.ReadInt64Async(0, long.MaxValue, "the shard position", cancellationToken).ConfigureAwait(false);
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                long position = _position++;
                if (position % count == index)
                {
                    Current = Input.Current;
                    return true;
                }
            }

            return false;
        }
    }
}
