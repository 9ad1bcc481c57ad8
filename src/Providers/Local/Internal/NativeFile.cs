using System.Runtime.InteropServices;

namespace InputPipeline.Checkpointing.Local.Internal;

/// <summary>The outcome of <see cref="NativeFile.TryMoveNoReplace"/>.</summary>
internal enum MoveNoReplaceResult
{
    /// <summary>The file is at the destination.</summary>
    Moved,

    /// <summary>The destination existed; nothing changed.</summary>
    DestinationExists,

    /// <summary>The platform or file system has no atomic no-replace move (no hard links); nothing changed.</summary>
    NotSupported,
}

/// <summary>
/// The few POSIX calls .NET does not expose: an atomic create-only move (<c>link</c> + <c>unlink</c>) and
/// <c>fsync</c> on a directory. On Windows the first reports <see cref="MoveNoReplaceResult.NotSupported"/> (where
/// <see cref="File.Move(string, string, bool)"/> without overwrite is atomic already) and the second does nothing
/// (NTFS journals renames itself).
/// </summary>
/// <remarks>
/// .NET's own <see cref="File.Move(string, string, bool)"/> with <c>overwrite: false</c> checks that the destination is
/// absent and then renames, which a concurrent creator can slip between; <c>link</c> fails with <c>EEXIST</c> atomically.
/// </remarks>
internal static partial class NativeFile
{
    private const int ORdOnly = 0;
    private const int EPerm = 1;
    private const int ENoEnt = 2;
    private const int EIntr = 4;
    private const int EAcces = 13;
    private const int EExist = 17;
    private const int EXDev = 18;
    private const int EInval = 22;
    private const int ERofs = 30;
    private const int EMLink = 31;

    private static bool IsPosix => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>Moves <paramref name="source"/> to <paramref name="destination"/> unless the destination exists, atomically.</summary>
    /// <param name="source">The file to move.</param>
    /// <param name="destination">Where to move it; its directory must exist.</param>
    /// <returns>What happened.</returns>
    /// <exception cref="DirectoryNotFoundException">The source or the destination's directory does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    /// <exception cref="IOException">Another failure (disk full, read-only file system, name too long, I/O error).</exception>
    public static MoveNoReplaceResult TryMoveNoReplace(string source, string destination)
    {
        if (!IsPosix)
        {
            return MoveNoReplaceResult.NotSupported;
        }

        int result;
        do
        {
            result = Link(source, destination);
        }
        while (result < 0 && Marshal.GetLastPInvokeError() == EIntr);

        if (result < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                EExist => MoveNoReplaceResult.DestinationExists,
                ENoEnt => throw new DirectoryNotFoundException(Describe($"Could not link '{source}' to '{destination}'", errno)),
                EAcces => throw new UnauthorizedAccessException(Describe($"Could not link '{source}' to '{destination}'", errno)),
                _ when IsLinkUnsupported(errno) => MoveNoReplaceResult.NotSupported,
                _ => throw new IOException(Describe($"Could not link '{source}' to '{destination}'", errno), errno),
            };
        }

        // The destination is complete now; a leftover source link (if unlink fails or the process dies here)
        // is only a second name of the same file, deleted later as a stale temp file.
        _ = Unlink(source);
        return MoveNoReplaceResult.Moved;
    }

    /// <summary>Flushes the entries of <paramref name="directory"/> to disk (<c>fsync</c> on the directory).</summary>
    /// <param name="directory">The directory's full path.</param>
    /// <exception cref="IOException">The directory could not be opened or flushed.</exception>
    public static void FlushDirectory(string directory)
    {
        if (!IsPosix)
        {
            return;
        }

        int flags = ORdOnly | (OperatingSystem.IsLinux() ? 0x80000 : OperatingSystem.IsMacOS() ? 0x1000000 : 0x100000); // O_CLOEXEC
        int fd;
        do
        {
            fd = Open(directory, flags);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EIntr);

        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(Describe($"Could not open directory '{directory}' to flush it", errno), errno);
        }

        try
        {
            int result;
            do
            {
                result = Fsync(fd);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == EIntr);

            if (result < 0)
            {
                int errno = Marshal.GetLastPInvokeError();

                // EINVAL / EROFS: the file system does not support synchronising a directory; nothing to do.
                if (errno is not (EInval or ERofs))
                {
                    throw new IOException(Describe($"Could not flush directory '{directory}'", errno), errno);
                }
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    // EPERM: the file system does not do hard links (FAT, exFAT, some FUSE and SMB mounts); EXDEV: another mount;
    // EMLINK: too many links; ENOTSUP / EOPNOTSUPP / ENOSYS: not implemented.
    private static bool IsLinkUnsupported(int errno) =>
        errno is EPerm or EXDev or EMLink
        || (OperatingSystem.IsLinux() ? errno is 95 or 38 : errno is 45 or 102 or 78);

    private static string Describe(string what, int errno) => $"{what} (errno {errno}: {Marshal.GetPInvokeErrorMessage(errno)}).";

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
