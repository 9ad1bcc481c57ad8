namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>Reading, saving (through a real byte round-trip) and restoring pipelines.</summary>
internal static class PipelineTestKit
{
    public static async Task<List<T>> ReadAsync<T>(ICheckpointableIterator<T> iterator, long max = long.MaxValue)
    {
        var list = new List<T>();
        while (list.Count < max && await iterator.MoveNextAsync())
        {
            list.Add(iterator.Current);
        }

        return list;
    }

    public static async Task<List<T>> ReadAllAsync<T>(Dataset<T> dataset, long max = long.MaxValue)
    {
        await using ICheckpointableIterator<T> iterator = dataset.CreateIterator();
        return await ReadAsync(iterator, max);
    }

    public static async Task<byte[]> SaveAsync(ICheckpointable iterator)
    {
        using ICheckpointSnapshot snapshot = iterator.CaptureState();
        using var bytes = new MemoryStream();
        await snapshot.WriteToAsync(bytes);
        return bytes.ToArray();
    }

    public static async Task<ICheckpointableIterator<T>> RestoreAsync<T>(Dataset<T> dataset, byte[] state)
    {
        ICheckpointableIterator<T> iterator = dataset.CreateIterator();
        try
        {
            await iterator.RestoreStateAsync(new MemoryStream(state, writable: false));
            return iterator;
        }
        catch
        {
            await iterator.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The core property: read up to <paramref name="limit"/> elements uninterrupted; then read <paramref name="saveAfter"/>
    /// elements of a second run, save, build a FRESH pipeline, restore, and read the rest. Both the restored run and the
    /// original (continuing after the capture) must equal the uninterrupted run element for element; when the
    /// uninterrupted run ended before the limit, the restored iterator must be exhausted too.
    /// </summary>
    public static async Task AssertResumeMatchesAsync<T>(Func<Dataset<T>> build, int saveAfter, int limit, IEqualityComparer<T>? comparer = null)
    {
        comparer ??= EqualityComparer<T>.Default;
        List<T> expected = await ReadAllAsync(build(), limit);
        bool finite = expected.Count < limit;
        int k = Math.Min(saveAfter, expected.Count);

        byte[] state;
        await using (ICheckpointableIterator<T> original = build().CreateIterator())
        {
            List<T> before = await ReadAsync(original, k);
            Assert.Equal(expected.Take(k), before, comparer);
            state = await SaveAsync(original);

            // Capturing does not disturb the original.
            List<T> after = await ReadAsync(original, expected.Count - k);
            Assert.Equal(expected.Skip(k), after, comparer);
        }

        await using ICheckpointableIterator<T> restored = await RestoreAsync(build(), state);
        List<T> rest = await ReadAsync(restored, expected.Count - k);
        Assert.Equal(expected.Skip(k), rest, comparer);
        if (finite)
        {
            Assert.False(await restored.MoveNextAsync(), "The restored iterator yields more elements than the uninterrupted run.");
        }
    }

    /// <summary>Compares arrays by content.</summary>
    public sealed class SequenceComparer<T> : IEqualityComparer<T[]>
    {
        public static SequenceComparer<T> Instance { get; } = new();

        public bool Equals(T[]? x, T[]? y) => x is null ? y is null : y is not null && x.SequenceEqual(y);

        public int GetHashCode(T[] obj) => obj.Length;
    }
}
