using System.Globalization;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>
/// Starts moto's S3 server for tests through tests/emulators/moto_serial.py, which serves one request at a time:
/// threaded moto_server does not make a conditional PUT's check and write atomic, so racing create-only writes could
/// both win there, which real S3 never allows.
/// </summary>
public static class MotoServer
{
    /// <summary>Starts moto on 127.0.0.1:<paramref name="port"/> and waits until it answers.</summary>
    /// <param name="port">A free port.</param>
    /// <param name="workingDirectory">The process's working directory (a temp folder).</param>
    /// <returns>The running process.</returns>
    /// <exception cref="InvalidOperationException">Python or moto is missing, or moto did not start; the message shows its output.</exception>
    public static Task<ExternalProcess> StartAsync(int port, string workingDirectory) =>
        ExternalProcess.StartAsync(
            $"moto (serving one request at a time) on 127.0.0.1:{port}",
            "python3",
            [Path.Combine(RepositoryPaths.Root, "tests", "emulators", "moto_serial.py"), "-H", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture)],
            ExternalProcess.HttpReady(new Uri($"http://127.0.0.1:{port}/")),
            TimeSpan.FromSeconds(60),
            workingDirectory);
}
