using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// <c>shuffle</c>: tf.data's buffered shuffle. The state is the generator's four words, whether the input ended, the
/// buffer (an element section), then the input's state.
/// </summary>
internal sealed class ShuffleDataset<T>(Dataset<T> input, int bufferSize, ulong seed, bool reshuffle, IElementCodec<T> codec) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "shuffle",
        [
            StructureParameter.Of("buffer", bufferSize),
            StructureParameter.Of("seed", seed),
            StructureParameter.Of("reshuffle", reshuffle),
            StructureParameter.Of("codec", codec.Name),
        ],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) =>
        new ShuffleNode(input.CreateNode(context), bufferSize, codec, new Xoshiro256StarStar(reshuffle ? seed ^ context.Salt : seed));

    /// <summary>tf.data's shuffle: fill the buffer, draw a uniform slot, output it and put the last element in its place.</summary>
    private sealed class ShuffleNode(Node<T> inner, int bufferSize, IElementCodec<T> codec, Xoshiro256StarStar random) : UnaryNode<T, T>(inner)
    {
        private const int MinFillChunk = 256;
        private readonly List<T> _buffer = [];
        private Xoshiro256StarStar _random = random;
        private bool _inputEnded;

        public override int ReadAvailable(Span<T> destination)
        {
            int written = 0;
            while (written < destination.Length)
            {
                int count = _buffer.Count;
                if (!_inputEnded && count == bufferSize - 1)
                {
                    // Steady state: every output first takes one input into the one free slot, so the inputs of all the
                    // outputs asked for are read straight into destination (no more than that: nothing read ahead), and
                    // each is then swapped with its draw. Drawing the free slot itself outputs the new input.
                    Span<T> window = destination[written..];
                    int read = Input.ReadAvailable(window);
                    _random = DrawInto(window[..read], CollectionsMarshal.AsSpan(_buffer), _random);
                    written += read;
                    if (read < window.Length)
                    {
                        break;
                    }
                }
                else if (!_inputEnded && count < bufferSize)
                {
                    // Filling, as MoveNextAsync does before its draw: straight into the list, in growing chunks.
                    int want = Math.Min(bufferSize - count, Math.Max(count, MinFillChunk));
                    if (_buffer.Capacity < count + want)
                    {
                        // Grows by doubling, but to no more than the buffer needs.
                        _buffer.Capacity = Math.Min(bufferSize, Math.Max(count + want, 2 * _buffer.Capacity));
                    }

                    CollectionsMarshal.SetCount(_buffer, count + want);
                    int read = Input.ReadAvailable(CollectionsMarshal.AsSpan(_buffer).Slice(count, want));
                    CollectionsMarshal.SetCount(_buffer, count + read);
                    if (read < want)
                    {
                        break;
                    }
                }
                else if (count > 0)
                {
                    destination[written++] = Draw();
                }
                else
                {
                    break;
                }
            }

            if (written > 0)
            {
                Current = destination[written - 1];
            }

            return written;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            // Copies references only; the elements are serialised later, streamed chunk by chunk.
            T[] buffer = [.. _buffer];
            (ulong s0, ulong s1, ulong s2, ulong s3) = _random.State;
            bool inputEnded = _inputEnded;
            StateWrite inputState = Input.Capture(context);
            return async (writer, cancellationToken) =>
            {
                writer.WriteUInt64(s0);
                writer.WriteUInt64(s1);
                writer.WriteUInt64(s2);
                writer.WriteUInt64(s3);
                writer.WriteBool(inputEnded);
                await ElementSection.WriteAsync(writer, codec, buffer, cancellationToken).ConfigureAwait(false);
                await inputState(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            var random = new Xoshiro256StarStar(
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false),
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false),
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false),
                await reader.ReadUInt64Async(cancellationToken).ConfigureAwait(false));
            if (!random.IsValid)
            {
                throw new StateCorruptException("the shuffle's random generator state is all zero.");
            }

            _random = random;
            _inputEnded = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            List<T> buffer = await ElementSection.ReadAsync(reader, codec, bufferSize, "the shuffle buffer's size", cancellationToken).ConfigureAwait(false);
            _buffer.Clear();
            _buffer.AddRange(buffer);
            await Input.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (!_inputEnded && _buffer.Count < bufferSize)
            {
                if (await Input.MoveNextAsync(cancellationToken).ConfigureAwait(false))
                {
                    _buffer.Add(Input.Current);
                }
                else
                {
                    _inputEnded = true;
                }
            }

            if (_buffer.Count == 0)
            {
                return false;
            }

            Current = Draw();
            return true;
        }

        /// <summary>
        /// The steady state's draws: <paramref name="items"/> is the full buffer but its last slot, and each element of
        /// <paramref name="window"/> goes into that slot and is replaced by the draw from the whole buffer.
        /// </summary>
        /// <returns>The generator after the draws.</returns>
        [MethodImpl(MethodImplOptions.NoInlining)] // A frame of its own keeps the generator's words in registers.
        private static Xoshiro256StarStar DrawInto(Span<T> window, Span<T> items, Xoshiro256StarStar generator)
        {
            // All in locals and registers, written back once by the caller.
            int bound = items.Length + 1;
            for (int i = 0; i < window.Length; i++)
            {
                int slot = generator.NextBelow(bound);
                if ((uint)slot < (uint)items.Length)
                {
                    (window[i], items[slot]) = (items[slot], window[i]);
                }
            }

            return generator;
        }

        private T Draw()
        {
            int slot = _random.NextBelow(_buffer.Count);
            T drawn = _buffer[slot];
            int last = _buffer.Count - 1;
            _buffer[slot] = _buffer[last];
            _buffer.RemoveAt(last);
            return drawn;
        }
    }
}
