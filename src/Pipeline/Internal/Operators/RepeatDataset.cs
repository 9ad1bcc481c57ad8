namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>repeat</c>: runs a fresh input node per epoch. The state is the epoch, whether it produced an element, whether the
/// repetition ended, whether an epoch is under way, then that epoch's state.
/// </summary>
internal sealed class RepeatDataset<T>(Dataset<T> input, int? count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "repeat",
        [StructureParameter.Of("count", count is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "forever")],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new RepeatNode(input, count, context);

    /// <summary>An epoch without elements ends the repetition.</summary>
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

        public override StateWrite Capture(CaptureContext context)
        {
            long epoch = _epoch;
            bool produced = _producedThisEpoch;
            bool ended = _ended;
            StateWrite? innerState = _inner?.Capture(context);
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
    }
}
