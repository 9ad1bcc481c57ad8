namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>A dataset with the same structure and nodes as its input, but other codecs for the operators added after it.</summary>
internal sealed class CodecScopeDataset<T>(Dataset<T> input, ElementCodecRegistry codecs, IElementCodec<T>? codec) : Dataset<T>(codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => input.Describe();

    internal override Node<T> CreateNode(IterationContext context) => input.CreateNode(context);

    internal override IElementCodec<T> ResolveCodec(string operatorName) => codec ?? base.ResolveCodec(operatorName);
}

internal sealed class MapDataset<TIn, TOut>(Dataset<TIn> input, Func<TIn, TOut> selector, string? name) : Dataset<TOut>(input.Codecs)
{
    internal override StructureNode Describe() => StructureNode.Create(
        "map",
        name is null ? [] : [StructureParameter.Of("name", name)],
        input.Describe());

    internal override Node<TOut> CreateNode(IterationContext context) => new MapNode(input.CreateNode(context), selector);

    private sealed class MapNode(Node<TIn> inner, Func<TIn, TOut> selector) : Node<TOut>
    {
        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = selector(inner.Current);
            return true;
        }

        public override StateWrite Capture() => inner.Capture();

        public override ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken) => inner.RestoreAsync(reader, cancellationToken);

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class FilterDataset<T>(Dataset<T> input, Func<T, bool> predicate, string? name) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "filter",
        name is null ? [] : [StructureParameter.Of("name", name)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new FilterNode(input.CreateNode(context), predicate);

    private sealed class FilterNode(Node<T> inner, Func<T, bool> predicate) : Node<T>
    {
        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                T value = inner.Current;
                if (predicate(value))
                {
                    Current = value;
                    return true;
                }
            }

            return false;
        }

        public override StateWrite Capture() => inner.Capture();

        public override ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken) => inner.RestoreAsync(reader, cancellationToken);

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class TakeDataset<T>(Dataset<T> input, long count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("take", [StructureParameter.Of("count", count)], input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new TakeNode(input.CreateNode(context), count);

    private sealed class TakeNode(Node<T> inner, long count) : Node<T>
    {
        private long _taken;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (_taken >= count || !await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            _taken++;
            Current = inner.Current;
            return true;
        }

        public override StateWrite Capture()
        {
            long taken = _taken;
            StateWrite innerState = inner.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(taken);
                return innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _taken = await reader.ReadInt64Async(0, count, "the number taken", cancellationToken).ConfigureAwait(false);
            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class SkipDataset<T>(Dataset<T> input, long count) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create("skip", [StructureParameter.Of("count", count)], input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new SkipNode(input.CreateNode(context), count);

    private sealed class SkipNode(Node<T> inner, long count) : Node<T>
    {
        private long _skipped;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (_skipped < count)
            {
                if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                _skipped++;
            }

            if (!await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = inner.Current;
            return true;
        }

        public override StateWrite Capture()
        {
            long skipped = _skipped;
            StateWrite innerState = inner.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(skipped);
                return innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _skipped = await reader.ReadInt64Async(0, count, "the number skipped", cancellationToken).ConfigureAwait(false);
            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}

internal sealed class ShardDataset<T>(Dataset<T> input, int count, int index) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "shard",
        [StructureParameter.Of("count", count), StructureParameter.Of("index", index)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new ShardNode(input.CreateNode(context), count, index);

    private sealed class ShardNode(Node<T> inner, int count, int index) : Node<T>
    {
        // The position in the input of the next element the input yields.
        private long _position;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (await inner.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                long position = _position++;
                if (position % count == index)
                {
                    Current = inner.Current;
                    return true;
                }
            }

            return false;
        }

        public override StateWrite Capture()
        {
            long position = _position;
            StateWrite innerState = inner.Capture();
            return (writer, cancellationToken) =>
            {
                writer.WriteInt64(position);
                return innerState(writer, cancellationToken);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _position = await reader.ReadInt64Async(0, long.MaxValue, "the shard position", cancellationToken).ConfigureAwait(false);
            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override ValueTask ReleaseAsync() => inner.DisposeAsync();
    }
}
