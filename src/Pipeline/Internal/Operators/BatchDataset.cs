using System.Diagnostics.CodeAnalysis;
using InputPipeline.Checkpointing.Pipeline.Codecs;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>batch</c>: groups consecutive elements into arrays. The state is whether the input ended, the batch in progress
/// (an element section), then the input's state.
/// </summary>
internal sealed class BatchDataset<T>(Dataset<T> input, int size, bool dropRemainder, IElementCodec<T> codec) : Dataset<T[]>(input.Codecs)
{
    internal override IElementCodec<T[]>? DerivedCodec => new ArrayCodec<T>(codec);

    internal override StructureNode Describe() => StructureNode.Create(
        "batch",
        [StructureParameter.Of("size", size), StructureParameter.Of("drop", dropRemainder), StructureParameter.Of("codec", codec.Name)],
        input.Describe());

    internal override Node<T[]> CreateNode(IterationContext context) => new BatchNode(input.CreateNode(context), size, dropRemainder, codec);

    /// <summary>Keeps the elements of a batch in progress across a cancelled call, and in the state.</summary>
    private sealed class BatchNode(Node<T> inner, int size, bool dropRemainder, IElementCodec<T> codec) : UnaryNode<T, T[]>(inner)
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

        public override StateWrite Capture(CaptureContext context)
        {
            T[] pending = _batch.AsSpan(0, _filled).ToArray();
            bool inputEnded = _inputEnded;
            StateWrite inputState = Input.Capture(context);
            return async (writer, cancellationToken) =>
            {
                writer.WriteBool(inputEnded);
                await ElementSection.WriteAsync(writer, codec, pending, cancellationToken).ConfigureAwait(false);
                await inputState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _inputEnded = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            List<T> pending = await ElementSection.ReadAsync(reader, codec, size - 1, "the size of the batch in progress", cancellationToken).ConfigureAwait(false);
            _batch = pending.Count == 0 ? null : new T[size];
            pending.CopyTo(_batch ?? []);
            _filled = pending.Count;
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (!_inputEnded && _filled < size)
            {
                T[] batch = _batch ??= new T[size];
                _filled += Input.ReadAvailable(batch.AsSpan(_filled));
                if (_filled == size)
                {
                    break;
                }

                if (await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    batch[_filled++] = Input.Current;
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

        /// <summary>Fills the batch in progress from the input's fast path and hands it out when that completes it.</summary>
        private bool TryFillAvailable([NotNullWhen(true)] out T[]? full)
        {
            full = null;
            if (_inputEnded)
            {
                return false;
            }

            T[] batch = _batch ?? new T[size];
            _filled += Input.ReadAvailable(batch.AsSpan(_filled));
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
    }
}
