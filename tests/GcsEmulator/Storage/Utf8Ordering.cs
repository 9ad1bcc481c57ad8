namespace GcsEmulator.Storage;

/// <summary>
/// Orders strings the way Cloud Storage orders object names: by their UTF-8 bytes, which equals
/// code point order. Plain ordinal comparison of UTF-16 differs only when a surrogate pair is
/// compared with a BMP character at or above U+E000, which this comparer corrects.
/// </summary>
internal sealed class Utf8Ordering : IComparer<string>
{
    public static readonly Utf8Ordering Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }
        if (x is null)
        {
            return -1;
        }
        if (y is null)
        {
            return 1;
        }

        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            var a = x[i];
            var b = y[i];
            if (a != b)
            {
                return Rank(a).CompareTo(Rank(b));
            }
        }
        return x.Length.CompareTo(y.Length);
    }

    // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF, so they must sort after U+E000..U+FFFF.
    private static int Rank(char c) => c switch
    {
        >= '\uE000' => c - 0x800,
        >= '\uD800' => c + 0x2000,
        _ => c,
    };

    /// <summary>Index of the first element of <paramref name="sorted"/> that is &gt;= <paramref name="value"/>.</summary>
    public static int LowerBound(List<string> sorted, string value)
    {
        var index = sorted.BinarySearch(value, Instance);
        return index >= 0 ? index : ~index;
    }

    /// <summary>Index of the first element of <paramref name="sorted"/> that is &gt; <paramref name="value"/>.</summary>
    public static int UpperBound(List<string> sorted, string value)
    {
        var index = sorted.BinarySearch(value, Instance);
        return index >= 0 ? index + 1 : ~index;
    }
}
