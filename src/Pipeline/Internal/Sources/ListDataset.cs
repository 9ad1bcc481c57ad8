namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>A source over an array: <c>from_list</c> and <c>files</c>.</summary>
internal sealed class ListDataset<T>(T[] items, StructureNode structure) : Dataset<T>(ElementCodecRegistry.Default)
{
    internal override StructureNode Describe() => structure;

    internal override Node<T> CreateNode(IterationContext context) => new ListNode(items);

    private sealed class ListNode(T[] items) : Node<T>
    {
        private int _index;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (_index >= items.Length)
            {
                return ValueTask.FromResult(false);
            }

            Current = items[_index++];
            return ValueTask.FromResult(true);
        }

        public override int ReadAvailable(Span<T> destination)
        {
            int n = Math.Min(destination.Length, items.Length - _index);
            if (n <= 0)
            {
                return 0;
            }

            items.AsSpan(_index, n).CopyTo(destination);
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
            _index = (int)await reader.ReadInt64Async(0, items.Length, "the list position", cancellationToken).ConfigureAwait(false);
    }
}
