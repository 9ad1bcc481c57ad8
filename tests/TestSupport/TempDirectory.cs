namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>A unique, empty folder under the system temp folder, deleted (with its content) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the folder.</summary>
    /// <param name="label">A readable part of the folder's name, for finding it while debugging.</param>
    public TempDirectory(string label = "test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ipc-{label}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>Gets the folder's full path.</summary>
    public string Path { get; }

    /// <summary>Combines the folder's path with relative parts.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <inheritdoc/>
    public void Dispose()
    {
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                if (Directory.Exists(Path))
                {
                    Directory.Delete(Path, recursive: true);
                }

                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A file may still be held open by a handle being closed on another thread.
                Thread.Sleep(50 * attempt);
            }
        }
    }
}
