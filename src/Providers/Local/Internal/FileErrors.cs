namespace InputPipeline.Checkpointing.Local.Internal;

/// <summary>Classifies the <see cref="IOException"/>s .NET throws by their <see cref="Exception.HResult"/>: the raw <c>errno</c> on Unix, an HRESULT on Windows.</summary>
internal static class FileErrors
{
    private const int UnixEExist = 17;
    private const int LinuxEAgain = 11;
    private const int BsdEAgain = 35;
    private const int WindowsFileExists = unchecked((int)0x80070050);
    private const int WindowsAlreadyExists = unchecked((int)0x800700B7);
    private const int WindowsSharingViolation = unchecked((int)0x80070020);
    private const int WindowsLockViolation = unchecked((int)0x80070021);

    /// <summary>Returns whether the file is locked by another handle (a <see cref="FileShare"/> conflict).</summary>
    public static bool IsSharingViolation(IOException exception) => exception.HResult switch
    {
        WindowsSharingViolation or WindowsLockViolation => OperatingSystem.IsWindows(),
        LinuxEAgain => OperatingSystem.IsLinux(),
        BsdEAgain => !OperatingSystem.IsWindows() && !OperatingSystem.IsLinux(),
        _ => false,
    };

    /// <summary>Returns whether the destination of a create or a no-overwrite move exists.</summary>
    public static bool IsAlreadyExists(IOException exception) => exception.HResult switch
    {
        WindowsFileExists or WindowsAlreadyExists => OperatingSystem.IsWindows(),
        UnixEExist => !OperatingSystem.IsWindows(),
        _ => false,
    };

    /// <summary>
    /// Returns whether a path's parent folder was missing. .NET reports ENOENT as <see cref="DirectoryNotFoundException"/>
    /// or, when another thread created the folder between the failed call and .NET's own check, as
    /// <see cref="FileNotFoundException"/>; for a create or a move both mean the same.
    /// </summary>
    public static bool IsMissingParent(IOException exception) =>
        exception is DirectoryNotFoundException or FileNotFoundException;
}
