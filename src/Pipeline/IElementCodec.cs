using System.Buffers;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// Turns elements of type <typeparamref name="T"/> into bytes and back, for the elements a pipeline holds in its saved
/// state: the contents of a shuffle or prefetch buffer, a batch in progress, the elements an interleave is expanding.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// Built-in codecs cover primitives, <see cref="string"/>, <see cref="byte"/> arrays, arrays and tuples of those
/// (<see cref="ElementCodecs"/>); register others with an <see cref="ElementCodecRegistry"/>. A codec must be
/// deterministic and thread-safe: a snapshot is written on a background thread while the pipeline goes on.
/// </remarks>
public interface IElementCodec<T>
{
    /// <summary>
    /// Gets a short, stable name for the encoding, such as <c>int64</c> or <c>json:MyApp.Sample</c>. It is recorded in
    /// the state's structure description, so restoring with a codec of another name is reported as a mismatch.
    /// </summary>
    string Name { get; }

    /// <summary>Writes <paramref name="value"/> to <paramref name="output"/>.</summary>
    /// <param name="value">The element.</param>
    /// <param name="output">Where to write; the caller frames the bytes with their length.</param>
    void Write(T value, IBufferWriter<byte> output);

    /// <summary>Reads an element from exactly the bytes <see cref="Write"/> produced.</summary>
    /// <param name="data">The bytes of one element.</param>
    /// <returns>The element.</returns>
    /// <exception cref="FormatException">The bytes are not a valid encoding (any exception is reported as a damaged checkpoint).</exception>
    T Read(ReadOnlySpan<byte> data);
}
