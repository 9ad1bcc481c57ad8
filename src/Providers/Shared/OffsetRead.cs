// Shared source: compiled into each cloud provider package (linked from its .csproj).
namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// The offset rule of <see cref="IInputStateStore.ReadAsync"/> for stores that answer a range starting at or past the
/// end of an object with 416: ask for the object's metadata; if it is missing, the read finds nothing; if it is no
/// longer than the offset, the read yields empty content with that metadata; if it grew past the offset (replaced
/// between the two requests), read again, up to <see cref="MaxAttempts"/> times.
/// </summary>
internal static class OffsetRead
{
    /// <summary>The most reads of one call before an object that keeps changing fails it: 3.</summary>
    public const int MaxAttempts = 3;

    /// <summary>
    /// Reads with <paramref name="read"/>, which returns the result, <see langword="null"/> for a missing object, or
    /// <see cref="Attempt.PastEnd"/> for a 416; then applies the rule with <paramref name="head"/>, which returns the
    /// object's metadata or <see langword="null"/>. Both translate their store's failures themselves.
    /// </summary>
    public static async Task<StoreReadResult?> ReadAsync(
        string providerName,
        string key,
        long offset,
        Func<CancellationToken, Task<Attempt>> read,
        Func<CancellationToken, Task<StoreObjectInfo?>> head,
        CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            Attempt result = await read(cancellationToken).ConfigureAwait(false);
            if (!result.IsPastEnd)
            {
                return result.Result;
            }

            StoreObjectInfo? info = await head(cancellationToken).ConfigureAwait(false);
            if (info is null)
            {
                return null;
            }

            if (info.Length <= offset)
            {
                return new StoreReadResult(new MemoryStream([], writable: false), info, offset);
            }

            if (attempt >= MaxAttempts)
            {
                throw new CheckpointStoreException(providerName, key, $"the object kept changing while it was read from offset {offset} ({MaxAttempts} attempts).");
            }
        }
    }

    /// <summary>The outcome of one read: the result (<see langword="null"/> when the object is missing), or a 416.</summary>
    internal readonly record struct Attempt(StoreReadResult? Result, bool IsPastEnd)
    {
        /// <summary>Gets the outcome of a range that starts at or past the end of the object.</summary>
        public static Attempt PastEnd => new(null, IsPastEnd: true);

        /// <summary>Returns the outcome of a read that found the object, or found it missing (<see langword="null"/>).</summary>
        public static Attempt Found(StoreReadResult? result) => new(result, IsPastEnd: false);
    }
}
