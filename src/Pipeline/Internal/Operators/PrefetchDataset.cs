namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>prefetch</c>: a <see cref="BackgroundReader{T}"/> fills a bounded buffer from the input. The state is the buffer
/// (an element section), then the input's state, captured together at an element boundary. The producer starts at the
/// first <see cref="Node{T}.MoveNextAsync"/>, after any restore.
/// </summary>
internal sealed class PrefetchDataset<T>(Dataset<T> input, int bufferSize, IElementCodec<T> codec) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "prefetch",
        [StructureParameter.Of("buffer", bufferSize), StructureParameter.Of("codec", codec.Name)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new PrefetchNode(input.CreateNode(context), bufferSize, codec);

    private sealed class PrefetchNode(Node<T> inner, int bufferSize, IElementCodec<T> codec) : UnaryNode<T, T>(inner)
    {
        private readonly BackgroundReader<T> _reader = new(inner, bufferSize, limiter: null);
        private bool _disposed;

        public override StateWrite Capture(CaptureContext context)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);

            // Pauses the producer between two elements: it cancels a read under way rather than waiting for it.
            _reader.Pause();
            try
            {
                _reader.WaitPaused();
                T[] buffered = _reader.Buffered();
                StateWrite inputState = Input.Capture(context);
                return async (writer, cancellationToken) =>
                {
                    await ElementSection.WriteAsync(writer, codec, buffered, cancellationToken).ConfigureAwait(false);
                    await inputState(writer, cancellationToken).ConfigureAwait(false);
                };
            }
            finally
            {
                _reader.Resume();
            }
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            List<T> buffered = await ElementSection.ReadAsync(reader, codec, bufferSize, "the prefetch buffer's size", cancellationToken).ConfigureAwait(false);
            _reader.Preload(buffered);
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!await _reader.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = _reader.Current;
            return true;
        }

        protected override async ValueTask ReleaseAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await _reader.DisposeAsync().ConfigureAwait(false);
            await Input.DisposeAsync().ConfigureAwait(false);
        }
    }
}
