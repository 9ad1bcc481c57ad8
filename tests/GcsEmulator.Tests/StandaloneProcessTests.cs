using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GcsEmulator.Tests;

public sealed class StandaloneProcessTests
{
    [Fact]
    public async Task Standalone_process_listens_on_the_given_url_and_serves_requests()
    {
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var dll = FindEmulatorDll();
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { dll, "--urls", url, "--buckets", "standalone-bucket" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        try
        {
            var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true)
                {
                    listening.TrySetResult(e.Data);
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var line = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(url, line, StringComparison.Ordinal);

            using var http = EmulatorFixture.CreateClient(new Uri(url + "/"));
            using (var bucket = await http.GetAsync("storage/v1/b/standalone-bucket"))
            {
                Assert.Equal(HttpStatusCode.OK, bucket.StatusCode);
                Assert.Equal("standalone-bucket", (await Gcs.JsonAsync(bucket)).GetProperty("name").GetString());
            }
            using var missing = await http.GetAsync("storage/v1/b/not-there");
            await Gcs.AssertErrorAsync(missing, HttpStatusCode.NotFound, "notFound");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }
        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }

    /// <summary>The emulator next to the test assembly (copied by the project reference), else its own build output.</summary>
    private static string FindEmulatorDll()
    {
        var here = AppContext.BaseDirectory;
        var local = Path.Combine(here, "GcsEmulator.dll");
        if (File.Exists(local) && File.Exists(Path.Combine(here, "GcsEmulator.runtimeconfig.json")))
        {
            return local;
        }

        // .../tests/GcsEmulator.Tests/bin/<Configuration>/<tfm>/ -> .../tests/GcsEmulator/bin/<Configuration>/<tfm>/
        var tfmDir = new DirectoryInfo(here.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfmDir.Parent!.Name;
        for (var dir = tfmDir; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "GcsEmulator", "bin", configuration, tfmDir.Name, "GcsEmulator.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("GcsEmulator.dll not found near " + here);
    }
}
