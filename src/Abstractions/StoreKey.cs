using System.Text;

namespace InputPipeline.Checkpointing;

/// <summary>Rules for object keys and checkpoint names, shared by every store and by the checkpoint manager.</summary>
public static class StoreKey
{
    /// <summary>The longest key accepted, in UTF-8 bytes (the limit of S3 and GCS object names, minus room for a prefix).</summary>
    public const int MaxKeyBytes = 900;

    /// <summary>The longest key segment (between two <c>/</c>) accepted, in UTF-8 bytes: the file-name limit of common file systems.</summary>
    public const int MaxSegmentBytes = 255;

    /// <summary>The longest checkpoint name (pipeline, chain or part name) accepted, in characters.</summary>
    public const int MaxNameLength = 100;

    /// <summary>
    /// Checks that <paramref name="key"/> is a relative, <c>/</c>-separated key: not empty, at most
    /// <see cref="MaxKeyBytes"/> UTF-8 bytes, segments of at most <see cref="MaxSegmentBytes"/> bytes, no leading or
    /// trailing <c>/</c>, no empty, <c>.</c> or <c>..</c> segment, no backslash and no control character. Spaces and
    /// non-ASCII letters are allowed. Characters Windows forbids in file names (<c>: * ? " &lt; &gt; |</c>) are not
    /// rejected here, so such keys work on the cloud stores but not on a Local store on Windows.
    /// </summary>
    /// <param name="key">The key to check.</param>
    /// <param name="parameterName">The parameter name to report.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> breaks a rule; the message says which.</exception>
    public static void Validate(string key, string parameterName = "key")
    {
        ArgumentNullException.ThrowIfNull(key, parameterName);
        string? problem = Check(key);
        if (problem is not null)
        {
            throw new ArgumentException($"Invalid store key \"{Printable(key)}\": {problem}.", parameterName);
        }
    }

    /// <summary>Returns whether <paramref name="key"/> is a valid key (see <see cref="Validate(string, string)"/>).</summary>
    /// <param name="key">The key to check.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValid(string? key) => key is not null && Check(key) is null;

    /// <summary>
    /// Checks that <paramref name="name"/> is a valid checkpoint name (a pipeline, chain, iterator or part name):
    /// 1 to <see cref="MaxNameLength"/> characters from <c>A-Z a-z 0-9 . _ -</c>, starting with a letter or digit,
    /// and not containing <c>..</c>. Such a name is safe as one key segment on every store.
    /// </summary>
    /// <param name="name">The name to check.</param>
    /// <param name="parameterName">The parameter name to report.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> breaks a rule; the message says which.</exception>
    public static void ValidateName(string name, string parameterName = "name")
    {
        ArgumentNullException.ThrowIfNull(name, parameterName);
        string? problem = CheckName(name);
        if (problem is not null)
        {
            throw new ArgumentException($"Invalid checkpoint name \"{Printable(name)}\": {problem}.", parameterName);
        }
    }

    /// <summary>Returns whether <paramref name="name"/> is a valid checkpoint name (see <see cref="ValidateName(string, string)"/>).</summary>
    /// <param name="name">The name to check.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidName(string? name) => name is not null && CheckName(name) is null;

    private static string? Check(string key)
    {
        if (key.Length == 0)
        {
            return "it is empty";
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            return $"it is longer than {MaxKeyBytes} UTF-8 bytes";
        }

        foreach (char c in key)
        {
            if (c == '\\')
            {
                return "it contains a backslash";
            }

            if (char.IsControl(c))
            {
                return "it contains a control character";
            }
        }

        if (key[0] == '/' || key[^1] == '/')
        {
            return "it starts or ends with '/'";
        }

        foreach (string segment in key.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "it contains an empty segment ('//')";
            }

            if (segment is "." or "..")
            {
                return "it contains a '.' or '..' segment";
            }

            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
            {
                return $"a segment is longer than {MaxSegmentBytes} UTF-8 bytes";
            }
        }

        return null;
    }

    private static string? CheckName(string name)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name.Length > MaxNameLength)
        {
            return $"it is longer than {MaxNameLength} characters";
        }

        if (!char.IsAsciiLetterOrDigit(name[0]))
        {
            return "it must start with an ASCII letter or digit";
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return $"it contains '{Printable(c.ToString())}'; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed";
            }
        }

        if (name.Contains("..", StringComparison.Ordinal))
        {
            return "it contains '..'";
        }

        return null;
    }

    private static string Printable(string value)
    {
        const int MaxShown = 64;
        var builder = new StringBuilder(Math.Min(value.Length, MaxShown) + 8);
        foreach (char c in value.Length > MaxShown ? value[..MaxShown] : value)
        {
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        if (value.Length > MaxShown)
        {
            builder.Append('…');
        }

        return builder.ToString();
    }
}
