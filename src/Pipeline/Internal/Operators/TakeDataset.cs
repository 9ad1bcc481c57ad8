namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary><c>take</c>: at most the first <c>count</c> elements. The state is the number taken, then the input's.</summary>
internal sealed class TakeDataset<T>(Dataset<T> input, long count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("take", [StructureParameter.Of("count", count)], input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new TakeNode(input.CreateNode(context), count);

    private sealed class TakeNode(Node<T> inner, long count) : UnaryNode<T, T>(inner)
    {
        private long _taken;

        public override int ReadAvailable(Span<T> destination)
        {
            int want = (int)Math.Min(destination.Length, count - _taken);
            if (want <= 0)
            {
                return 0;
            }

            int read = Input.ReadAvailable(destination[..want]);
            _taken += read;
            if (read > 0)
            {
                Current = destination[read - 1];
            }

            return read;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            long taken = _taken;
            return Then(writer => writer.WriteInt64(taken), Input.Capture(context));
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _taken = await reader.ReadInt64Async(0, count, "the number taken", cancellationToken).ConfigureAwait(false);
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            if (_taken >= count || !await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            _taken++;
            Current = Input.Current;
            return true;
        }
    }
}
