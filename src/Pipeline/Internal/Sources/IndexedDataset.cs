using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// Index mode: a seeded global order per epoch over a random-access source, split between workers by position. The state
/// is (epoch, cursor within the epoch) at the step boundary, independent of the worker, plus the shard count and index
/// it was saved with (informative only).
/// </summary>
internal sealed class IndexedDataset<T>(IRandomAccessSource<T> source, ulong seed, int shardCount, int shardIndex, int? epochs)
    : Dataset<T>(ElementCodecRegistry.Default)
{
    internal override StructureNode Describe() => StructureNode.Create(
        "indexed",
        [
            StructureParameter.Of("source", source.Identity),
            StructureParameter.Of("count", source.Count),
            StructureParameter.Of("seed", seed),
        ]);

    internal override Node<T> CreateNode(IterationContext context) => new IndexedNode(source, seed, shardCount, shardIndex, epochs, context);

    private sealed class IndexedNode(IRandomAccessSource<T> source, ulong seed, int shardCount, int shardIndex, int? epochs, IterationContext context) : Node<T>
    {
        private readonly long _count = source.Count;

        // The global position (epochs laid end to end) of worker 0's next element: after k elements per worker, k·shardCount.
        private long _cursor;
        private long _permutationEpoch = -1;
        private FeistelPermutation? _permutation;

        // What source.Read threw in ReadAvailable, thrown by the next MoveNextAsync (the cursor stays on that element).
        private ExceptionDispatchInfo? _failure;

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (_failure is { } failure)
            {
                _failure = null;
                return ValueTask.FromException<bool>(failure.SourceException);
            }

            try
            {
                if (!TryRead(out T element))
                {
                    return ValueTask.FromResult(false);
                }

                Current = element;
                return ValueTask.FromResult(true);
            }
            catch (Exception ex)
            {
                return ValueTask.FromException<bool>(ex);
            }
        }

        public override int ReadAvailable(Span<T> destination)
        {
            int written = 0;
            try
            {
                while (written < destination.Length && _failure is null && TryRead(out T element))
                {
                    destination[written++] = element;
                }
            }
            catch (Exception ex)
            {
                _failure = ExceptionDispatchInfo.Capture(ex);
            }

            if (written > 0)
            {
                Current = destination[written - 1];
            }

            return written;
        }

        private bool TryRead(out T element)
        {
            element = default!;
            if (_count == 0)
            {
                return false;
            }

            long position = _cursor + shardIndex;
            long epoch = position / _count;
            if (position < _cursor || (epochs is { } limit && epoch >= limit))
            {
                return false;
            }

            if (epoch != _permutationEpoch)
            {
                _permutation = new FeistelPermutation(_count, context.Derive(SaltTags.IndexedEpoch ^ seed, epoch).Salt);
                _permutationEpoch = epoch;
            }

            element = source.Read(_permutation!.Map(position % _count));
            _cursor += shardCount;
            return true;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            long epoch = _count == 0 ? 0 : _cursor / _count;
            long cursor = _count == 0 ? _cursor : _cursor % _count;
            return (writer, _) =>
            {
                writer.WriteInt64(epoch);
                writer.WriteInt64(cursor);
                writer.WriteInt32(shardCount);
                writer.WriteInt32(shardIndex);
                return ValueTask.CompletedTask;
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            long epoch = await reader.ReadInt64Async(0, long.MaxValue, "the epoch", cancellationToken).ConfigureAwait(false);
            long cursor = await reader.ReadInt64Async(0, long.MaxValue, "the global cursor", cancellationToken).ConfigureAwait(false);
            await reader.ReadInt32Async(1, int.MaxValue, "the saved shard count", cancellationToken).ConfigureAwait(false);
            await reader.ReadInt32Async(0, int.MaxValue, "the saved shard index", cancellationToken).ConfigureAwait(false);
            if (_count == 0)
            {
                _cursor = cursor;
                return;
            }

            if (cursor >= _count)
            {
                throw new StateCorruptException($"the cursor {cursor} is not inside an epoch of {_count} elements.");
            }

            if (epoch > (long.MaxValue - cursor) / _count)
            {
                throw new StateCorruptException($"epoch {epoch} is too large.");
            }

            _cursor = (epoch * _count) + cursor;
        }
    }
}
