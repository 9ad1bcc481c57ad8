namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary><c>concatenate</c>: the first dataset's elements, then the second's. The state is whether the first ended, the first's state (if not), then the second's.</summary>
internal sealed class ConcatenateDataset<T>(Dataset<T> first, Dataset<T> second) : Dataset<T>(first.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => first.DerivedCodec ?? second.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("concatenate", first.Describe(), second.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new ConcatenateNode(first.CreateNode(context), second.CreateNode(context));

    private sealed class ConcatenateNode(Node<T> first, Node<T> second) : Node<T>
    {
        private bool _inSecond;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        /// <summary>Reads from the current input; moving on to the second is left to <see cref="MoveNextAsync"/>.</summary>
        public override int ReadAvailable(Span<T> destination)
        {
            int read = (_inSecond ? second : first).ReadAvailable(destination);
            if (read > 0)
            {
                Current = destination[read - 1];
            }

            return read;
        }

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            if (!_inSecond)
            {
                if (await first.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    Current = first.Current;
                    return true;
                }

                _inSecond = true;
                await first.DisposeAsync().ConfigureAwait(false);
            }

            if (await second.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                Current = second.Current;
                return true;
            }

            return false;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            bool inSecond = _inSecond;
            StateWrite? a = inSecond ? null : first.Capture(context);
            StateWrite b = second.Capture(context);
            return async (writer, cancellationToken) =>
            {
                writer.WriteBool(inSecond);
                if (a is not null)
                {
                    await a(writer, cancellationToken).ConfigureAwait(false);
                }

                await b(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _inSecond = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            if (!_inSecond)
            {
                await first.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
            }

            await second.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask ReleaseAsync()
        {
            await first.DisposeAsync().ConfigureAwait(false);
            await second.DisposeAsync().ConfigureAwait(false);
        }
    }
}
