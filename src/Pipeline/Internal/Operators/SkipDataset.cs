namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary><c>skip</c>: drops the first <c>count</c> elements. The state is the number skipped, then the input's.</summary>
internal sealed class SkipDataset<T>(Dataset<T> input, long count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("skip", [StructureParameter.Of("count", count)], input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new SkipNode(input.CreateNode(context), count);

    private sealed class SkipNode(Node<T> inner, long count) : UnaryNode<T, T>(inner)
    {
        private long _skipped;

        public override int ReadAvailable(Span<T> destination)
        {
            // The skipped elements pass through destination, which the next read overwrites.
            while (_skipped < count && destination.Length > 0)
            {
                int want = (int)Math.Min(destination.Length, count - _skipped);
                int skipped = Input.ReadAvailable(destination[..want]);
                _skipped += skipped;
                if (skipped < want)
                {
                    return 0;
                }
            }

            int read = Input.ReadAvailable(destination);
            if (read > 0)
            {
                Current = destination[read - 1];
            }

            return read;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            long skipped = _skipped;
            return Then(writer => writer.WriteInt64(skipped), Input.Capture(context));
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _skipped = await reader.ReadInt64Async(0, count, "the number skipped", cancellationToken).ConfigureAwait(false);
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (_skipped < count)
            {
                if (!await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                _skipped++;
            }

            if (!await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = Input.Current;
            return true;
        }
    }
}
