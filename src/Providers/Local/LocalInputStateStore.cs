using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using InputPipeline.Checkpointing.Local.Internal;
using InputPipeline.Checkpointing.Providers.Internal;
using Microsoft.Win32.SafeHandles;

namespace InputPipeline.Checkpointing.Local;

/// <summary>
/// An <see cref="IInputStateStore"/> over a directory of the local file system (or a mounted network or cloud
/// volume). Each key is a file under the root; <c>/</c> in a key is a directory separator.
/// </summary>
/// <remarks>
/// <para>
/// A write goes to a temp file in <see cref="TempFolderName"/> under the root, which is flushed to disk, then moved
/// into place (without overwriting for <see cref="WriteCondition.IfAbsent"/>, by an atomic rename otherwise), and the
/// destination's directory is flushed too. A process killed at any instant therefore leaves either no object or the
/// whole one; a temp file it leaves behind is deleted later (see <see cref="LocalStoreOptions.StaleTempFileAge"/>).
/// </para>
/// <para>
/// An object's version is its modification time (in ticks) and its length. Writes and deletes of a key hold an
/// exclusive lock that works across processes (a lock file in <see cref="LockFolderName"/>), check their condition
/// under it, and stamp the new file with a time later than the one it replaces, so a key's versions strictly
/// increase. The lock uses .NET's file-sharing locks, which are advisory <c>flock</c> locks on Unix: do not set
/// <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c>, and do not share a root between machines over NFS.
/// </para>
/// <para>
/// Keys whose first segment starts with <see cref="ReservedPrefix"/> are reserved for the store's own folders.
/// A key cannot name a file and a directory at once: when <c>a/b</c> exists, writing <c>a</c> fails with
/// <see cref="CheckpointStoreException"/>. Each key segment must also fit the file system's name limit (255 bytes
/// on most Unix file systems). Directories left empty by a delete are removed.
/// </para>
/// <para>The store is thread-safe and holds no resources between calls, so it needs no disposal.</para>
/// </remarks>
public sealed class LocalInputStateStore : IInputStateStore
{
    /// <summary>The provider name, <c>Local</c>: the value of <see cref="ProviderName"/> and of <c>InputPipelineCheckpointing:Provider</c> that selects this store.</summary>
    public const string LocalProviderName = "Local";

    /// <summary>The prefix of the store's internal folders under the root, <c>.ipc-</c>; keys whose first segment starts with it are rejected.</summary>
    public const string ReservedPrefix = ".ipc-";

    /// <summary>The folder under the root that holds temp files while they are written: <c>.ipc-tmp</c>.</summary>
    public const string TempFolderName = ".ipc-tmp";

    /// <summary>The folder under the root that holds the lock files of writers: <c>.ipc-locks</c>.</summary>
    public const string LockFolderName = ".ipc-locks";

    private const int CopyBufferSize = 1024 * 1024;
    private const int SmallWriteSize = 1024 * 1024;
    private const int MaxReadBufferSize = 64 * 1024;
    private const int MaxMoveAttempts = 5;

    private readonly string _root;
    private readonly string _tempDirectory;
    private readonly string _lockDirectory;
    private readonly TimeSpan _staleTempFileAge;
    private readonly KeyLockTable _locks;
    private readonly bool _deferCreateOnlyFlush;

    /// <summary>The paths of create-only writes not flushed to disk yet (see <see cref="LocalStoreOptions.DeferCreateOnlyFlush"/>).</summary>
    private readonly ConcurrentDictionary<string, byte> _unflushed = new(StringComparer.Ordinal);
    private int _staleTempFilesCollected;

    /// <summary>Creates a store over the root directory <see cref="LocalStoreOptions.Path"/>.</summary>
    /// <param name="options">The options; validated here and not read again.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException">An option is missing or out of range, or the path is not a valid path.</exception>
    public LocalInputStateStore(LocalStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        try
        {
            _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Path));
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or IOException or System.Security.SecurityException)
        {
            throw new CheckpointOptionsException("InputPipelineCheckpointing:Local:Path", $"\"{options.Path}\" is not a valid path: {ex.Message}");
        }

        _tempDirectory = Path.Join(_root, TempFolderName);
        _lockDirectory = Path.Join(_root, LockFolderName);
        _staleTempFileAge = options.StaleTempFileAge;
        _deferCreateOnlyFlush = options.DeferCreateOnlyFlush;
        _locks = new KeyLockTable(_lockDirectory, options.LockTimeout, EnsureDirectory);
    }

    /// <summary>Creates a store over the root directory <paramref name="path"/>, with the other options at their defaults.</summary>
    /// <param name="path">The root directory; relative paths are resolved against the current directory now.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="CheckpointOptionsException"><paramref name="path"/> is empty or not a valid path.</exception>
    public LocalInputStateStore(string path)
        : this(new LocalStoreOptions { Path = path ?? throw new ArgumentNullException(nameof(path)) })
    {
    }

    /// <inheritdoc/>
    /// <value>Always <see cref="LocalProviderName"/>.</value>
    public string ProviderName => LocalProviderName;

    /// <summary>Gets the full path of the root directory.</summary>
    public string RootPath => _root;

    /// <summary>Gets the number of create-only writes whose files are not flushed to disk yet.</summary>
    internal int UnflushedCount => _unflushed.Count;

    /// <inheritdoc/>
    /// <remarks>Atomic even if the process is killed during the write; a cancelled write deletes its temp file. A key whose first segment starts with <see cref="ReservedPrefix"/> is rejected.</remarks>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key or is reserved, <paramref name="content"/> is not readable, or <paramref name="condition"/> is not a valid condition.</exception>
    /// <exception cref="CheckpointStoreException">The file system refused the write (permissions, disk full, a directory in the way, a name too long), or the key's lock was not obtained within <see cref="LocalStoreOptions.LockTimeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWrite(key, content, condition, cancellationToken);
        string path = ResolvePath(key);
        string directory = Path.GetDirectoryName(path)!;
        bool deferFlush = _deferCreateOnlyFlush && condition.Kind == WriteConditionKind.IfAbsent;
        string? tempPath = null;
        try
        {
            // Fail fast, before uploading, when the condition already does not hold; it is checked again under the lock.
            CheckCondition(key, path, condition);
            if (!deferFlush)
            {
                // A write that replaces an object may be a commit naming the create-only objects written before it:
                // they reach the disk first.
                await FlushCreateOnlyWritesAsync(cancellationToken).ConfigureAwait(false);
            }

            EnsureDirectory(_tempDirectory);
            CollectStaleTempFilesOnce();
            EnsureDirectory(directory);

            tempPath = Path.Join(_tempDirectory, Guid.NewGuid().ToString("N") + ".tmp");
            long length = await WriteTempFileAsync(tempPath, content, flushToDisk: !deferFlush, cancellationToken).ConfigureAwait(false);

            using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                FileInfo? current = CheckCondition(key, path, condition);
                DateTime stamped = VersionClock.Stamp(tempPath, current?.LastWriteTimeUtc.Ticks);
                MoveIntoPlace(key, tempPath, path, condition);
                tempPath = null;
                if (deferFlush)
                {
                    _unflushed[path] = 0;
                }
                else
                {
                    NativeFile.FlushDirectory(directory);
                }

                return VersionOf(stamped, length);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointStoreException(ProviderName, key, $"the write failed under '{_root}': {ex.Message}", ex);
        }
        finally
        {
            if (tempPath is not null)
            {
                TryDeleteFile(tempPath);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>The open content keeps reading the file actually opened, even if the key is replaced or deleted meanwhile.</remarks>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key or is reserved.</exception>
    /// <exception cref="CheckpointStoreException">The file system refused the read.</exception>
    public Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<StoreReadResult?>(cancellationToken);
        }

        StoreArguments.CheckRead(key, offset, cancellationToken);
        string path = ResolvePath(key);

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.SequentialScan | FileOptions.Asynchronous);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<StoreReadResult?>(null);
        }
        catch (UnauthorizedAccessException) when (Directory.Exists(path))
        {
            // A directory: other keys start with "key/", but no object is at the key itself.
            return Task.FromResult<StoreReadResult?>(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointStoreException(ProviderName, key, $"the read failed under '{_root}': {ex.Message}", ex);
        }

        try
        {
            long length = RandomAccess.GetLength(handle);
            DateTime lastWrite = File.GetLastWriteTimeUtc(handle);
            long remaining = Math.Max(0, length - offset);
            int bufferSize = remaining == 0 ? 0 : (int)Math.Clamp(remaining, 4096, MaxReadBufferSize);
            var stream = new FileStream(handle, FileAccess.Read, bufferSize, handle.IsAsync);
            if (offset > 0)
            {
                stream.Seek(offset, SeekOrigin.Begin);
            }

            var info = new StoreObjectInfo(key, length, VersionOf(lastWrite, length), new DateTimeOffset(lastWrite));
            return Task.FromResult<StoreReadResult?>(new StoreReadResult(stream, info, offset));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            handle.Dispose();
            throw new CheckpointStoreException(ProviderName, key, $"the read failed under '{_root}': {ex.Message}", ex);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Directories left empty by the delete are removed.</remarks>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key or is reserved, or <paramref name="ifVersion"/> is an empty version.</exception>
    /// <exception cref="CheckpointStoreException">The file system refused the delete, or the key's lock was not obtained within <see cref="LocalStoreOptions.LockTimeout"/>.</exception>
    public async Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckDelete(key, ifVersion, cancellationToken);
        string path = ResolvePath(key);
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
            {
                var current = new FileInfo(path);
                if (!current.Exists)
                {
                    return false;
                }

                if (ifVersion is { } expected && !string.Equals(VersionOf(current).Value, expected.Value, StringComparison.Ordinal))
                {
                    throw new CheckpointConflictException(ProviderName, key, WriteCondition.IfVersionMatches(expected));
                }

                File.Delete(path);
            }

            RemoveEmptyDirectories(Path.GetDirectoryName(path)!);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointStoreException(ProviderName, key, $"the delete failed under '{_root}': {ex.Message}", ex);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Only the directories that can hold matching keys are visited; the store's internal folders and files whose names are not valid keys are never listed.</remarks>
    /// <exception cref="CheckpointStoreException">The file system refused the listing.</exception>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        ListCoreAsync(StoreArguments.CheckList(prefix), cancellationToken);

    /// <inheritdoc/>
    public override string ToString() => $"{LocalProviderName} store at '{_root}'";

    private static StoreVersion VersionOf(DateTime lastWriteUtc, long length) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{lastWriteUtc.Ticks:x}-{length:x}"));

    private static StoreVersion VersionOf(FileInfo file) => VersionOf(file.LastWriteTimeUtc, file.Length);

    private static async Task<long> WriteTempFileAsync(string tempPath, Stream content, bool flushToDisk, CancellationToken cancellationToken)
    {
        var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
        await using (file.ConfigureAwait(false))
        {
            long length = await CopyAsync(content, file, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            file.Flush(flushToDisk);
            return length;
        }
    }

    /// <summary>
    /// Flushes the files of the create-only writes made since the last flush, then their directories. The flushes are
    /// issued in parallel, so the file system commits them in few journal transactions instead of one per file.
    /// A file deleted meanwhile (retention, orphan collection) needs no flush.
    /// </summary>
    private async Task FlushCreateOnlyWritesAsync(CancellationToken cancellationToken)
    {
        if (_unflushed.IsEmpty)
        {
            return;
        }

        string[] paths = [.. _unflushed.Keys];
        string[] directories = [.. paths.Select(p => Path.GetDirectoryName(p)!).Distinct(StringComparer.Ordinal)];
        await InParallelAsync(paths, FlushFile, cancellationToken).ConfigureAwait(false);
        await InParallelAsync(directories, FlushDirectoryIfPresent, cancellationToken).ConfigureAwait(false);
        foreach (string path in paths)
        {
            _unflushed.TryRemove(path, out _);
        }

        static void FlushDirectoryIfPresent(string directory)
        {
            if (Directory.Exists(directory))
            {
                NativeFile.FlushDirectory(directory);
            }
        }

        static void FlushFile(string path)
        {
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
                file.Flush(flushToDisk: true);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // Deleted since it was written: nothing to keep.
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on every item at once: the first on this thread, the others on the thread pool.</summary>
    private static async Task InParallelAsync(string[] items, Action<string> action, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Task[] others = [.. items.Skip(1).Select(item => Task.Run(() => action(item), cancellationToken))];
        try
        {
            action(items[0]);
        }
        finally
        {
            await Task.WhenAll(others).ConfigureAwait(false);
        }
    }

    private static async Task<long> CopyAsync(Stream content, FileStream file, CancellationToken cancellationToken)
    {
        if (content is MemoryStream memory && memory.TryGetBuffer(out ArraySegment<byte> buffered))
        {
            // The whole content is in memory already: write it in one call, without a copy. A small one is written
            // right here: an asynchronous file write on Unix is this same write on a thread-pool thread, plus the hops.
            int start = (int)Math.Min(memory.Position, buffered.Count);
            if (buffered.Count - start <= SmallWriteSize)
            {
                file.Write(buffered.AsSpan(start));
            }
            else
            {
                await file.WriteAsync(buffered.AsMemory(start), cancellationToken).ConfigureAwait(false);
            }

            memory.Position = buffered.Count;
            return buffered.Count - start;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            long total = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int read = await content.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return total;
                }

                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                total += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the stale temp file collection.
        }
    }

    private string ResolvePath(string key)
    {
        StoreKey.Validate(key, nameof(key));
        if (key.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Invalid store key \"{key}\": keys whose first segment starts with \"{ReservedPrefix}\" are reserved for the Local store's internal folders.", nameof(key));
        }

        return Path.Join(_root, Path.DirectorySeparatorChar == '/' ? key : key.Replace('/', Path.DirectorySeparatorChar));
    }

    /// <summary>Checks a write condition against the file at <paramref name="path"/> and returns the file's current state (null if absent).</summary>
    private FileInfo? CheckCondition(string key, string path, WriteCondition condition)
    {
        var current = new FileInfo(path);
        bool exists = current.Exists;
        switch (condition.Kind)
        {
            case WriteConditionKind.IfAbsent when exists:
                throw new CheckpointConflictException(ProviderName, key, condition);
            case WriteConditionKind.IfVersionMatches when !exists || !string.Equals(VersionOf(current).Value, condition.Version!.Value.Value, StringComparison.Ordinal):
                throw new CheckpointConflictException(ProviderName, key, condition);
        }

        if (!exists && Directory.Exists(path))
        {
            throw new IOException($"'{path}' is a directory (other keys start with \"{key}/\"); the Local store cannot keep an object at the same key.");
        }

        return exists ? current : null;
    }

    private void MoveIntoPlace(string key, string tempPath, string path, WriteCondition condition)
    {
        bool overwrite = condition.Kind != WriteConditionKind.IfAbsent;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (overwrite)
                {
                    File.Move(tempPath, path, overwrite: true); // an atomic rename over the destination
                    return;
                }

                switch (NativeFile.TryMoveNoReplace(tempPath, path))
                {
                    case MoveNoReplaceResult.Moved:
                        return;
                    case MoveNoReplaceResult.DestinationExists:
                        throw ExistsConflict(key, path, condition, null);
                    default:
                        // No hard links here (or Windows, where this is atomic): rely on the key's lock.
                        File.Move(tempPath, path, overwrite: false);
                        return;
                }
            }
            catch (IOException ex) when (FileErrors.IsMissingParent(ex) && attempt < MaxMoveAttempts && File.Exists(tempPath))
            {
                // A concurrent delete removed the (empty) parent directory; create it again.
                EnsureDirectory(Path.GetDirectoryName(path)!);
            }
            catch (IOException ex) when (!overwrite && (FileErrors.IsAlreadyExists(ex) || File.Exists(path)))
            {
                throw ExistsConflict(key, path, condition, ex);
            }
        }
    }

    private Exception ExistsConflict(string key, string path, WriteCondition condition, Exception? inner) =>
        Directory.Exists(path)
            ? new IOException($"'{path}' is a directory (other keys start with \"{key}/\"); the Local store cannot keep an object at the same key.", inner)
            : new CheckpointConflictException(ProviderName, key, condition, inner);

    /// <summary>Creates <paramref name="directory"/> and its missing parents, flushing each new entry to disk.</summary>
    private void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        string? parent = Path.GetDirectoryName(directory);
        if (parent is not null)
        {
            EnsureDirectory(parent);
        }

        Directory.CreateDirectory(directory);
        if (parent is not null)
        {
            NativeFile.FlushDirectory(parent);
        }
    }

    /// <summary>Removes <paramref name="directory"/> and its parents up to (not including) the root while they are empty.</summary>
    private void RemoveEmptyDirectories(string directory)
    {
        while (directory.Length > _root.Length && directory.StartsWith(_root, StringComparison.Ordinal))
        {
            try
            {
                Directory.Delete(directory, recursive: false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return; // Not empty (or in use): keep it.
            }

            directory = Path.GetDirectoryName(directory)!;
        }
    }

    private void CollectStaleTempFilesOnce()
    {
        if (Interlocked.Exchange(ref _staleTempFilesCollected, 1) != 0)
        {
            return;
        }

        DateTime threshold = DateTime.UtcNow - _staleTempFileAge;
        try
        {
            foreach (string file in Directory.EnumerateFiles(_tempDirectory))
            {
                if (File.GetLastWriteTimeUtc(file) < threshold)
                {
                    TryDeleteFile(file);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a later store instance tries again.
        }
    }

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();

        int slash = prefix.LastIndexOf('/');
        string directoryPart = slash < 0 ? string.Empty : prefix[..slash];
        string namePrefix = prefix[(slash + 1)..];
        if (directoryPart.Length > 0 && (!StoreKey.IsValid(directoryPart) || directoryPart.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase)))
        {
            yield break; // No valid key can start with this prefix.
        }

        string start = directoryPart.Length == 0 ? _root : ResolvePath(directoryPart);
        using ListingEnumerator? entries = OpenListing(start, namePrefix, prefix);
        if (entries is null)
        {
            yield break;
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!MoveNext(entries, prefix))
            {
                yield break;
            }

            if (entries.Current.Key.StartsWith(prefix, StringComparison.Ordinal) && StoreKey.IsValid(entries.Current.Key))
            {
                yield return entries.Current;
            }
        }
    }

    private ListingEnumerator? OpenListing(string start, string namePrefix, string prefix)
    {
        try
        {
            return new ListingEnumerator(_root, start, namePrefix, VersionOf);
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointStoreException(ProviderName, null, $"listing prefix \"{prefix}\" under '{_root}' failed: {ex.Message}", ex);
        }
    }

    private bool MoveNext(ListingEnumerator entries, string prefix)
    {
        try
        {
            return entries.MoveNext();
        }
        catch (DirectoryNotFoundException)
        {
            return false; // The start directory was removed meanwhile: nothing left to list.
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointStoreException(ProviderName, null, $"listing prefix \"{prefix}\" under '{_root}' failed: {ex.Message}", ex);
        }
    }
}
