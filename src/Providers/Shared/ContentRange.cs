// Shared source: compiled into each cloud provider package (linked from Shared.props).
using System.Globalization;

namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>Reads the whole object's length from a ranged response.</summary>
internal static class ContentRange
{
    /// <summary>
    /// Returns the total of <c>Content-Range: bytes first-last/total</c>, or <paramref name="whole"/> (the length of a
    /// response that was not ranged) when the header is absent or has no total.
    /// </summary>
    public static long TotalLength(string? contentRange, long whole)
    {
        int slash = contentRange?.LastIndexOf('/') ?? -1;
        return slash >= 0 && long.TryParse(contentRange.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long total)
            ? total
            : whole;
    }
}
