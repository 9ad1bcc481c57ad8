namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// A source whose elements can be read by index, for <see cref="Dataset.Indexed{T}"/>: a record file with an index
/// (<see cref="IndexedRecordFile"/>), an in-memory list (<see cref="RandomAccessSource.FromList{T}"/>), a table.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public interface IRandomAccessSource<out T>
{
    /// <summary>Gets the number of elements; it must not change while a pipeline uses the source.</summary>
    long Count { get; }

    /// <summary>
    /// Gets a short identity of the source recorded in the saved structure (with <see cref="Count"/>), so restoring
    /// into a pipeline over another source is a mismatch. Default: the implementing type's name.
    /// </summary>
    string Identity => GetType().Name;

    /// <summary>Reads the element at <paramref name="index"/>. Called by one iterator at a time, but possibly by several iterators concurrently.</summary>
    /// <param name="index">The index, in [0, <see cref="Count"/>).</param>
    /// <returns>The element.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, Count).</exception>
    T Read(long index);
}

/// <summary>Ready-made <see cref="IRandomAccessSource{T}"/> implementations.</summary>
public static class RandomAccessSource
{
    /// <summary>Creates a random-access source over a copy of <paramref name="items"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="items">The items; the list is copied.</param>
    /// <param name="identity">The identity recorded in the saved structure; <see langword="null"/> (the default) is <c>list</c>.</param>
    /// <returns>The source.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> is null.</exception>
    public static IRandomAccessSource<T> FromList<T>(IReadOnlyList<T> items, string? identity = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        return new ListSource<T>([.. items], identity ?? "list");
    }

    private sealed class ListSource<T>(T[] items, string identity) : IRandomAccessSource<T>
    {
        public long Count => items.Length;

        public string Identity => identity;

        public T Read(long index)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, items.LongLength);
            return items[index];
        }
    }
}
