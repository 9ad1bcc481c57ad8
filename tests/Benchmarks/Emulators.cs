using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Starts the emulators the benchmarks run against, each on a free 127.0.0.1 port with its data in a temp folder, the
/// same way the test command does: Azurite from tests/emulators (npm ci), moto serving one request at a time, and this
/// repository's GCS emulator as its own process (so its work is not charged to the benchmark process).
/// A missing emulator throws with the reason; nothing is silently left out.
/// </summary>
public static class Emulators
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Starts Azurite and returns it with its connection string.</summary>
    /// <param name="dataDirectory">Where Azurite keeps its blobs.</param>
    /// <returns>The process and its connection string.</returns>
    public static async Task<(ExternalProcess Process, string ConnectionString)> StartAzuriteAsync(string dataDirectory)
    {
        int port = FreePort.Get();
        return (await AzuriteServer.StartAsync(port, dataDirectory), AzuriteServer.ConnectionStringFor(port));
    }

    /// <summary>Starts moto (S3) and returns it with its endpoint.</summary>
    /// <param name="workingDirectory">The process's working directory.</param>
    /// <returns>The process and its endpoint.</returns>
    public static async Task<(ExternalProcess Process, Uri Endpoint)> StartMotoAsync(string workingDirectory)
    {
        int port = FreePort.Get();
        Directory.CreateDirectory(workingDirectory);
        ExternalProcess process = await MotoServer.StartAsync(port, workingDirectory);
        return (process, new Uri($"http://127.0.0.1:{port}/"));
    }

    /// <summary>Starts the repository's GCS emulator as a process and returns it with its endpoint.</summary>
    /// <returns>The process and its endpoint.</returns>
    public static async Task<(ExternalProcess Process, Uri Endpoint)> StartGcsEmulatorAsync()
    {
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        string dll = Path.Combine(RepositoryPaths.Root, "tests", "GcsEmulator", "bin", configuration, "net10.0", "GcsEmulator.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The GCS emulator is not built ({dll} is missing): build the solution in {configuration} first (scripts/bench.sh does).");
        }

        int port = FreePort.Get();
        var endpoint = new Uri($"http://127.0.0.1:{port}/");
        ExternalProcess process = await ExternalProcess.StartAsync(
            $"GcsEmulator on 127.0.0.1:{port}",
            "dotnet",
            [dll, "--urls", $"http://127.0.0.1:{port}"],
            ExternalProcess.HttpReady(new Uri(endpoint, "_emulator/health")),
            StartTimeout);
        return (process, endpoint);
    }
}
