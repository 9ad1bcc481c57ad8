// Shared source: compiled into each cloud provider package (linked from Shared.props).
using System.Globalization;
using System.Text;

namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// The one rule for the prefix a cloud store keeps its keys under (a "folder" in a bucket or container): surrounding
/// white space and a leading <c>/</c> are dropped and a trailing <c>/</c> added, and the prefix followed by any valid key must be a name the store
/// accepts.
/// </summary>
internal static class StorePrefix
{
    /// <summary>Returns <paramref name="prefix"/> normalised: trimmed, no leading <c>/</c>, and ending with <c>/</c> unless empty.</summary>
    public static string Normalize(string? prefix)
    {
        string trimmed = (prefix ?? string.Empty).Trim().TrimStart('/');
        return trimmed.Length == 0 || trimmed.EndsWith('/') ? trimmed : trimmed + "/";
    }

    /// <summary>
    /// Returns what is wrong with <paramref name="prefix"/> (as written in the options), or <see langword="null"/>:
    /// its segments must be valid key segments, and the normalised prefix at most <paramref name="maxLength"/> long,
    /// counted in UTF-8 bytes (<paramref name="utf8Bytes"/>) or in characters, as the store counts its names.
    /// </summary>
    public static string? Problem(string? prefix, int maxLength, bool utf8Bytes)
    {
        string normalized = Normalize(prefix);
        if (normalized.Length == 0)
        {
            return null;
        }

        int length = utf8Bytes ? Encoding.UTF8.GetByteCount(normalized) : normalized.Length;
        if (length > maxLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"must be at most {maxLength} {(utf8Bytes ? "UTF-8 bytes" : "characters")}; it is {length}.");
        }

        return StoreKey.IsValid(normalized[..^1])
            ? null
            : $"\"{prefix}\" is not a valid prefix: it must be '/'-separated segments, none empty, '.' or '..', without backslashes or control characters.";
    }
}
