namespace InputPipeline.Checkpointing.Pipeline.Internal;

internal sealed class RangeDataset(long start, long end, long step) : Dataset<long>(ElementCodecRegistry.Default)
{
    internal override StructureNode Describe() => StructureNode.Create(
        "range",
        [StructureParameter.Of("start", start), StructureParameter.Of("end", end), StructureParameter.Of("step", step)]);

    internal override Node<long> CreateNode(IterationContext context) => new RangeNode(start, step, CountOf(start, end, step));

    private static long CountOf(long start, long end, long step)
    {
        Int128 span = step > 0 ? (Int128)end - start : (Int128)start - end;
        if (span <= 0)
        {
            return 0;
        }

        Int128 magnitude = step > 0 ? step : -(Int128)step;
        return (long)((span + magnitude - 1) / magnitude);
    }

    private sealed class RangeNode(long start, long step, long count) : Node<long>
    {
        private long _index;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (_index >= count)
            {
                return ValueTask.FromResult(false);
            }

            Current = unchecked(start + (_index * step));
            _index++;
            return ValueTask.FromResult(true);
        }

        public override int ReadAvailable(Span<long> destination)
        {
            int n = (int)Math.Min(destination.Length, count - _index);
            if (n <= 0)
            {
                return 0;
            }

            long value = unchecked(start + (_index * step));
            for (int i = 0; i < n; i++)
            {
                destination[i] = value;
                value = unchecked(value + step);
            }

            _index += n;
            Current = destination[n - 1];
            return n;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            long index = _index;
            return (writer, _) =>
            {
                writer.WriteInt64(index);
                return ValueTask.CompletedTask;
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken) =>
            _index = await reader.ReadInt64Async(0, count, "the range position", cancellationToken).ConfigureAwait(false);
    }
}
