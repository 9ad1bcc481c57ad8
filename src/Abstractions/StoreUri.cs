using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace InputPipeline.Checkpointing;

/// <summary>The kind of store a <see cref="StoreUri"/> names.</summary>
public enum StoreUriKind
{
    /// <summary>A directory on the local file system (a plain path or a <c>file:</c> URI): the <c>Local</c> provider.</summary>
    Local = 0,

    /// <summary>An Amazon S3 (or S3-compatible) bucket and prefix, <c>s3://bucket/prefix</c>: the <c>S3</c> provider.</summary>
    S3 = 1,

    /// <summary>A Google Cloud Storage bucket and prefix, <c>gs://bucket/prefix</c>: the <c>Gcs</c> provider.</summary>
    Gcs = 2,

    /// <summary>An Azure Blob Storage account, container and prefix, <c>az://account/container/prefix</c>: the <c>AzureBlob</c> provider.</summary>
    AzureBlob = 3,
}

/// <summary>
/// A checkpoint store named the way users of <c>aws s3</c>, <c>gsutil</c> and <c>azcopy</c> name locations: a plain
/// path or <c>file:///path</c>, <c>s3://bucket/prefix</c>, <c>gs://bucket/prefix</c> or
/// <c>az://account/container/prefix</c>. It depends on no provider package, so the same grammar serves the <c>ckpt</c>
/// tool and the <c>InputPipelineCheckpointing:Store</c> configuration shortcut (see <see cref="ToConfigurationValues"/>).
/// </summary>
/// <remarks>
/// <para>Grammar (schemes are case-insensitive; nothing is percent-decoded except in <c>file:</c> URIs):</para>
/// <list type="bullet">
/// <item><description><c>PATH</c>: any text without a <c>scheme://</c> in front (a drive letter such as <c>C:\</c> is a path), relative to the current directory.</description></item>
/// <item><description><c>file:///absolute/path</c> or <c>file://localhost/absolute/path</c>.</description></item>
/// <item><description><c>s3://BUCKET[/PREFIX]</c>, <c>gs://BUCKET[/PREFIX]</c>.</description></item>
/// <item><description><c>az://ACCOUNT/CONTAINER[/PREFIX]</c>; ACCOUNT is 3 to 24 lower-case letters and digits.</description></item>
/// </list>
/// <para>
/// A PREFIX is <c>/</c>-separated; leading and trailing <c>/</c> are dropped, and it must not contain an empty, <c>.</c>
/// or <c>..</c> segment, a backslash, a control character, <c>?</c> or <c>#</c>. Bucket and container names are checked
/// by the providers' own option validation when the store is created.
/// </para>
/// </remarks>
public sealed partial class StoreUri : IEquatable<StoreUri>
{
    /// <summary>The configuration section <see cref="ToConfigurationValues"/> writes under by default: <c>InputPipelineCheckpointing</c>.</summary>
    public const string DefaultSectionPath = "InputPipelineCheckpointing";

    private StoreUri(StoreUriKind kind, string original, string? localPath, string? account, string? bucket, string prefix)
    {
        Kind = kind;
        Original = original;
        LocalPath = localPath;
        Account = account;
        Bucket = bucket;
        Prefix = prefix;
    }

    /// <summary>Gets the kind of store.</summary>
    public StoreUriKind Kind { get; }

    /// <summary>Gets the text the URI was parsed from.</summary>
    public string Original { get; }

    /// <summary>Gets the directory of a <see cref="StoreUriKind.Local"/> store as given (relative paths are not resolved); <see langword="null"/> for the other kinds.</summary>
    public string? LocalPath { get; }

    /// <summary>Gets the storage account of an <see cref="StoreUriKind.AzureBlob"/> store; <see langword="null"/> for the other kinds.</summary>
    public string? Account { get; }

    /// <summary>Gets the bucket (S3, GCS) or container (Azure Blob); <see langword="null"/> for a Local store.</summary>
    public string? Bucket { get; }

    /// <summary>Gets the key prefix inside the bucket or container, without leading or trailing <c>/</c>; empty for none and for a Local store.</summary>
    public string Prefix { get; }

    /// <summary>Gets the name of the provider that serves the store: <c>Local</c>, <c>S3</c>, <c>Gcs</c> or <c>AzureBlob</c>.</summary>
    public string ProviderName => Kind switch
    {
        StoreUriKind.S3 => "S3",
        StoreUriKind.Gcs => "Gcs",
        StoreUriKind.AzureBlob => "AzureBlob",
        _ => "Local",
    };

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <param name="text">A path or store URI.</param>
    /// <returns>The store URI.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException"><paramref name="text"/> is not a path or store URI; the message says why and lists the accepted forms.</exception>
    public static StoreUri Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out StoreUri? uri, out string? error) ? uri : throw new FormatException(error);
    }

    /// <summary>Parses <paramref name="text"/>, without throwing.</summary>
    /// <param name="text">A path or store URI.</param>
    /// <param name="uri">The store URI, when the text is valid.</param>
    /// <param name="error">Why the text is not valid (naming the text and the accepted forms), when it is not.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is valid.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out StoreUri? uri, [NotNullWhen(false)] out string? error)
    {
        uri = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the store is empty; give a path, file:///path, s3://bucket/prefix, gs://bucket/prefix or az://account/container/prefix.";
            return false;
        }

        if (text.Any(char.IsControl))
        {
            error = $"\"{Printable(text)}\" contains a control character.";
            return false;
        }

        Match scheme = SchemePattern().Match(text);
        if (!scheme.Success)
        {
            Match bare = BareSchemePattern().Match(text);
            if (bare.Success)
            {
                string known = bare.Groups[1].Value.ToLowerInvariant();
                error = $"\"{text}\" is not a store URI: write {known}://… (with two slashes).";
                return false;
            }

            uri = new StoreUri(StoreUriKind.Local, text, text, null, null, string.Empty);
            error = null;
            return true;
        }

        string name = scheme.Groups[1].Value.ToLowerInvariant();
        string rest = text[scheme.Length..];
        switch (name)
        {
            case "file":
                return TryParseFile(text, out uri, out error);
            case "s3":
                return TryParseBucket(StoreUriKind.S3, text, rest, out uri, out error);
            case "gs":
                return TryParseBucket(StoreUriKind.Gcs, text, rest, out uri, out error);
            case "az":
                return TryParseAzure(text, rest, out uri, out error);
            default:
                error = $"\"{text}\" has the unknown URI scheme \"{scheme.Groups[1].Value}\"; use a path, file:///path, s3://bucket/prefix, gs://bucket/prefix or az://account/container/prefix.";
                return false;
        }
    }

    /// <summary>
    /// Returns the configuration values the store URI stands for, as the <c>InputPipelineCheckpointing:Store</c> shortcut
    /// does: <c>Provider</c> and the provider's location keys, under <paramref name="sectionPath"/>. For example
    /// <c>s3://ml/run-7</c> gives <c>Provider = S3</c>, <c>S3:Bucket = ml</c>, <c>S3:Prefix = run-7</c>; a path gives
    /// <c>Provider = Local</c>, <c>Local:Path</c>; <c>az://acct/box/run</c> gives <c>Provider = AzureBlob</c>,
    /// <c>AzureBlob:Container</c>, <c>AzureBlob:Prefix</c> and, when <paramref name="includeAzureServiceUri"/>,
    /// <c>AzureBlob:ServiceUri = https://acct.blob.core.windows.net/</c> (leave it out when a connection string is configured).
    /// </summary>
    /// <param name="sectionPath">The section the keys go under; default <see cref="DefaultSectionPath"/>. An empty string gives keys relative to the section.</param>
    /// <param name="includeAzureServiceUri">Whether an Azure URI sets <c>AzureBlob:ServiceUri</c> from its account; default <see langword="true"/>.</param>
    /// <returns>The keys and values, in a stable order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sectionPath"/> is null.</exception>
    public IReadOnlyList<KeyValuePair<string, string?>> ToConfigurationValues(string sectionPath = DefaultSectionPath, bool includeAzureServiceUri = true)
    {
        ArgumentNullException.ThrowIfNull(sectionPath);
        string root = sectionPath.Length == 0 ? string.Empty : sectionPath + ":";
        string provider = ProviderName;
        var values = new List<KeyValuePair<string, string?>> { new(root + "Provider", provider) };
        switch (Kind)
        {
            case StoreUriKind.Local:
                values.Add(new(root + "Local:Path", LocalPath));
                break;
            case StoreUriKind.AzureBlob:
                values.Add(new(root + "AzureBlob:Container", Bucket));
                values.Add(new(root + "AzureBlob:Prefix", Prefix));
                if (includeAzureServiceUri)
                {
                    values.Add(new(root + "AzureBlob:ServiceUri", AzureAccountUri(Account!).AbsoluteUri));
                }

                break;
            default:
                values.Add(new(root + provider + ":Bucket", Bucket));
                values.Add(new(root + provider + ":Prefix", Prefix));
                break;
        }

        return values;
    }

    /// <summary>Returns the public endpoint of an Azure storage account's blob service: <c>https://ACCOUNT.blob.core.windows.net/</c>.</summary>
    /// <param name="account">The account name.</param>
    /// <returns>The endpoint.</returns>
    /// <exception cref="ArgumentException"><paramref name="account"/> is null or empty.</exception>
    public static Uri AzureAccountUri(string account)
    {
        ArgumentException.ThrowIfNullOrEmpty(account);
        return new Uri($"https://{account}.blob.core.windows.net/");
    }

    /// <summary>Returns the canonical form: the path as given for a Local store, otherwise <c>scheme://…</c> without a trailing <c>/</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Kind switch
    {
        StoreUriKind.Local => LocalPath!,
        StoreUriKind.AzureBlob => Join($"az://{Account}/{Bucket}", Prefix),
        StoreUriKind.S3 => Join($"s3://{Bucket}", Prefix),
        _ => Join($"gs://{Bucket}", Prefix),
    };

    /// <inheritdoc/>
    public bool Equals(StoreUri? other) =>
        other is not null && Kind == other.Kind && string.Equals(ToString(), other.ToString(), StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is StoreUri other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, ToString());

    private static string Join(string head, string prefix) => prefix.Length == 0 ? head : head + "/" + prefix;

    private static bool TryParseFile(string text, out StoreUri? uri, out string? error)
    {
        uri = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? parsed) || !parsed.IsFile)
        {
            error = $"\"{text}\" is not a valid file: URI; write file:///absolute/path, or just the path.";
            return false;
        }

        if (!string.IsNullOrEmpty(parsed.Host) && !string.Equals(parsed.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            error = $"\"{text}\" names the host \"{parsed.Host}\"; only local paths are supported (file:///absolute/path).";
            return false;
        }

        // file://localhost/p is file:///p; Uri.LocalPath would make it the UNC path \\localhost\p.
        string localPath = string.IsNullOrEmpty(parsed.Host) ? parsed.LocalPath : new Uri("file://" + parsed.AbsolutePath).LocalPath;
        uri = new StoreUri(StoreUriKind.Local, text, localPath, null, null, string.Empty);
        error = null;
        return true;
    }

    private static bool TryParseBucket(StoreUriKind kind, string text, string rest, out StoreUri? uri, out string? error)
    {
        uri = null;
        string scheme = kind == StoreUriKind.S3 ? "s3" : "gs";
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string bucket = slash < 0 ? rest : rest[..slash];
        string prefix = slash < 0 ? string.Empty : rest[(slash + 1)..];
        if (bucket.Length == 0)
        {
            error = $"\"{text}\" names no bucket; write {scheme}://bucket/prefix.";
            return false;
        }

        if (bucket.Any(c => c is '?' or '#' or '@' or ':' or '\\'))
        {
            error = $"\"{text}\": \"{bucket}\" is not a bucket name.";
            return false;
        }

        if (!TryNormalizePrefix(text, prefix, out string? normalized, out error))
        {
            return false;
        }

        uri = new StoreUri(kind, text, null, null, bucket, normalized);
        return true;
    }

    private static bool TryParseAzure(string text, string rest, out StoreUri? uri, out string? error)
    {
        uri = null;
        string[] parts = rest.Split('/', 3);
        string account = parts[0];
        string container = parts.Length > 1 ? parts[1] : string.Empty;
        string prefix = parts.Length > 2 ? parts[2] : string.Empty;
        if (!AccountPattern().IsMatch(account))
        {
            error = account.Length == 0
                ? $"\"{text}\" names no storage account; write az://account/container/prefix."
                : $"\"{text}\": \"{account}\" is not a storage account name (3 to 24 lower-case letters and digits); write az://account/container/prefix.";
            return false;
        }

        if (container.Length == 0)
        {
            error = $"\"{text}\" names no container; write az://account/container/prefix.";
            return false;
        }

        if (container.Any(c => c is '?' or '#' or '@' or ':' or '\\'))
        {
            error = $"\"{text}\": \"{container}\" is not a container name.";
            return false;
        }

        if (!TryNormalizePrefix(text, prefix, out string? normalized, out error))
        {
            return false;
        }

        uri = new StoreUri(StoreUriKind.AzureBlob, text, null, account, container, normalized);
        return true;
    }

    private static bool TryNormalizePrefix(string text, string prefix, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = prefix.Trim('/');
        if (normalized.Length == 0)
        {
            error = null;
            return true;
        }

        string? problem = null;
        if (normalized.Contains('\\', StringComparison.Ordinal))
        {
            problem = "a backslash";
        }
        else if (normalized.IndexOfAny(['?', '#']) >= 0)
        {
            problem = "'?' or '#'";
        }
        else
        {
            foreach (string segment in normalized.Split('/'))
            {
                if (segment.Length == 0)
                {
                    problem = "an empty segment ('//')";
                    break;
                }

                if (segment is "." or "..")
                {
                    problem = "a '.' or '..' segment";
                    break;
                }
            }
        }

        if (problem is not null)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"\"{text}\": the prefix \"{normalized}\" contains {problem}.");
            normalized = null;
            return false;
        }

        error = null;
        return true;
    }

    private static string Printable(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) ? string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : c.ToString()));

    // A scheme of two or more characters followed by "://"; "C:\" and "C:/" stay paths.
    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]+)://", RegexOptions.CultureInvariant)]
    private static partial Regex SchemePattern();

    // A known scheme without the two slashes ("s3:bucket"), almost certainly a typo rather than a relative path.
    [GeneratedRegex("^(s3|gs|az|file):(?!//)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex BareSchemePattern();

    [GeneratedRegex("^[a-z0-9]{3,24}$", RegexOptions.CultureInvariant)]
    private static partial Regex AccountPattern();
}
