using System.IO.Enumeration;

namespace InputPipeline.Checkpointing.Local.Internal;

/// <summary>
/// Enumerates the files under a start directory as <see cref="StoreObjectInfo"/>, visiting only what can match a
/// key prefix: entries directly in the start directory must start with the prefix's last segment; everything below
/// a matching directory matches. The store's internal folders at the root are skipped.
/// </summary>
internal sealed class ListingEnumerator : FileSystemEnumerator<StoreObjectInfo>
{
    private static readonly EnumerationOptions Options = new()
    {
        RecurseSubdirectories = true,
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
        ReturnSpecialDirectories = false,
    };

    private readonly int _rootLength;
    private readonly int _startLength;
    private readonly bool _atRoot;
    private readonly string _namePrefix;
    private readonly Func<DateTime, long, StoreVersion> _versionOf;

    /// <summary>Starts enumerating <paramref name="start"/>.</summary>
    /// <param name="root">The store's root, a full path without a trailing separator.</param>
    /// <param name="start">The directory to enumerate: the root or a directory under it, a full path without a trailing separator.</param>
    /// <param name="namePrefix">The prefix the names directly in <paramref name="start"/> must have.</param>
    /// <param name="versionOf">Makes a version from a modification time and a length.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="start"/> does not exist.</exception>
    /// <exception cref="IOException"><paramref name="start"/> cannot be opened.</exception>
    public ListingEnumerator(string root, string start, string namePrefix, Func<DateTime, long, StoreVersion> versionOf)
        : base(start, Options)
    {
        _rootLength = root.Length;
        _startLength = start.Length;
        _atRoot = _startLength == _rootLength;
        _namePrefix = namePrefix;
        _versionOf = versionOf;
    }

    /// <inheritdoc/>
    protected override bool ShouldIncludeEntry(ref FileSystemEntry entry) => !entry.IsDirectory && Matches(ref entry);

    /// <inheritdoc/>
    protected override bool ShouldRecurseIntoEntry(ref FileSystemEntry entry) => Matches(ref entry);

    /// <inheritdoc/>
    protected override StoreObjectInfo TransformEntry(ref FileSystemEntry entry)
    {
        ReadOnlySpan<char> directory = entry.Directory.Length > _rootLength ? entry.Directory[(_rootLength + 1)..] : [];
        string key = directory.IsEmpty ? entry.FileName.ToString() : string.Concat(directory, "/", entry.FileName);
        if (Path.DirectorySeparatorChar != '/')
        {
            key = key.Replace(Path.DirectorySeparatorChar, '/');
        }

        DateTime lastWrite = entry.LastWriteTimeUtc.UtcDateTime;
        long length = entry.Length;
        return new StoreObjectInfo(key, length, _versionOf(lastWrite, length), new DateTimeOffset(lastWrite));
    }

    /// <summary>Skips a directory or file that disappeared during the enumeration (a concurrent delete).</summary>
    /// <param name="error">The native error: <c>errno</c> on Unix, a Win32 error on Windows.</param>
    /// <returns>Whether to go on.</returns>
    protected override bool ContinueOnError(int error) =>
        OperatingSystem.IsWindows() ? error is 2 or 3 : error == 2; // ENOENT; ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND

    private bool Matches(ref FileSystemEntry entry) =>
        entry.Directory.Length != _startLength
        || (entry.FileName.StartsWith(_namePrefix, StringComparison.Ordinal)
            && !(_atRoot && entry.FileName.StartsWith(LocalInputStateStore.ReservedPrefix, StringComparison.OrdinalIgnoreCase)));
}
