using System.Globalization;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>
/// Starts Azurite's blob service for tests and benchmarks from tests/emulators (installed there by <c>npm ci</c>), bound
/// to 127.0.0.1, with telemetry off (otherwise it ignores SIGTERM) and the API version check skipped.
/// </summary>
public static class AzuriteServer
{
    /// <summary>Azurite's development account name.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known development account key: public, documented by Microsoft, not a secret.</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Gets the path of the azurite-blob launcher that tests/emulators installs with <c>npm ci</c>.</summary>
    public static string Launcher => Path.Combine(RepositoryPaths.Root, "tests", "emulators", "node_modules", ".bin", "azurite-blob");

    /// <summary>Returns the connection string of the development account at 127.0.0.1:<paramref name="port"/>.</summary>
    /// <param name="port">Azurite's port.</param>
    /// <returns>The connection string.</returns>
    public static string ConnectionStringFor(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{port}/{AccountName};";

    /// <summary>Starts Azurite on 127.0.0.1:<paramref name="port"/> and waits until it accepts connections.</summary>
    /// <param name="port">A free port.</param>
    /// <param name="dataDirectory">Where Azurite keeps its blobs (also its working directory); created if missing.</param>
    /// <returns>The running process.</returns>
    /// <exception cref="InvalidOperationException">Azurite is not installed or did not start; the message says why.</exception>
    public static Task<ExternalProcess> StartAsync(int port, string dataDirectory)
    {
        if (!File.Exists(Launcher))
        {
            throw new InvalidOperationException($"Azurite is not installed: {Launcher} does not exist. Run 'npm ci' in tests/emulators (scripts/test.sh and scripts/bench.sh do).");
        }

        Directory.CreateDirectory(dataDirectory);
        return ExternalProcess.StartAsync(
            $"Azurite on 127.0.0.1:{port}",
            Launcher,
            ["--blobHost", "127.0.0.1", "--blobPort", port.ToString(CultureInfo.InvariantCulture), "--location", dataDirectory, "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose"],
            ExternalProcess.TcpReady(port),
            TimeSpan.FromSeconds(60),
            dataDirectory);
    }
}
