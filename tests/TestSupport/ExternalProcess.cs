using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>Free loopback ports for emulators and fake servers.</summary>
public static class FreePort
{
    /// <summary>Returns a TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int Get()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Paths inside this repository.</summary>
public static class RepositoryPaths
{
    /// <summary>Gets the repository root: the nearest folder above the test assembly that holds Sdk.sln.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sdk.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Sdk.sln was not found above {AppContext.BaseDirectory}.");
    }
}

/// <summary>
/// An emulator or helper process started for tests: its output is kept for diagnostics, it is waited for until a
/// readiness probe passes, and disposing it kills its whole process tree. When it cannot start, <see cref="StartAsync"/>
/// throws with a message that says why and shows the process's last output, so a test fails rather than skips.
/// </summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private const int KeptOutputLines = 200;
    private readonly Process _process;
    private readonly Queue<string> _output = new();
    private readonly object _gate = new();

    private ExternalProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    /// <summary>Gets what the process is, for messages (for example "Azurite on 127.0.0.1:41234").</summary>
    public string Description { get; }

    /// <summary>Gets whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Gets the process's last lines of standard output and error.</summary>
    public string RecentOutput
    {
        get
        {
            lock (_gate)
            {
                return string.Join(Environment.NewLine, _output);
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> and waits until <paramref name="isReady"/> returns true.</summary>
    /// <param name="description">What it is, for messages.</param>
    /// <param name="fileName">The executable.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="isReady">The readiness probe, polled every 100 ms; exceptions count as "not yet".</param>
    /// <param name="timeout">How long to wait for readiness.</param>
    /// <param name="workingDirectory">The working directory, or <see langword="null"/> for the current one.</param>
    /// <param name="environment">Extra environment variables.</param>
    /// <returns>The running process.</returns>
    /// <exception cref="InvalidOperationException">The executable is missing, exited early, or was not ready in time; the message says which and shows its output.</exception>
    public static async Task<ExternalProcess> StartAsync(
        string description,
        string fileName,
        IEnumerable<string> arguments,
        Func<CancellationToken, Task<bool>> isReady,
        TimeSpan timeout,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (KeyValuePair<string, string> pair in environment ?? new Dictionary<string, string>())
        {
            info.Environment[pair.Key] = pair.Value;
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{description}: Process.Start returned nothing for '{fileName}'.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{description} could not start: '{fileName}' cannot be run ({ex.Message}). Run the README's test command, which installs it.", ex);
        }

        var started = new ExternalProcess(process, description);
        process.OutputDataReceived += (_, e) => started.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => started.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            if (process.HasExited)
            {
                string output = started.RecentOutput;
                await started.DisposeAsync();
                throw new InvalidOperationException($"{description} exited with code {process.ExitCode} before it was ready. Its output:{Environment.NewLine}{output}");
            }

            try
            {
                if (await isReady(deadline.Token))
                {
                    return started;
                }
            }
            catch (Exception) when (!deadline.IsCancellationRequested)
            {
                // Not ready yet.
            }
            catch (OperationCanceledException)
            {
            }

            if (deadline.IsCancellationRequested)
            {
                string output = started.RecentOutput;
                await started.DisposeAsync();
                throw new InvalidOperationException($"{description} was not ready within {timeout.TotalSeconds:F0} s. Its output:{Environment.NewLine}{output}");
            }

            try
            {
                await Task.Delay(100, deadline.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>A readiness probe that succeeds once a TCP connection to 127.0.0.1:<paramref name="port"/> is accepted.</summary>
    /// <param name="port">The port.</param>
    /// <returns>The probe.</returns>
    public static Func<CancellationToken, Task<bool>> TcpReady(int port) => async ct =>
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, ct);
        return true;
    };

    /// <summary>A readiness probe that succeeds once <paramref name="url"/> answers any HTTP status.</summary>
    /// <param name="url">The URL.</param>
    /// <returns>The probe.</returns>
    public static Func<CancellationToken, Task<bool>> HttpReady(Uri url) => async ct =>
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using HttpResponseMessage response = await http.GetAsync(url, ct);
        return true;
    };

    /// <summary>Stops the process (and its children).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or not stoppable: nothing more to do in a test's cleanup.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.Enqueue(line);
            while (_output.Count > KeptOutputLines)
            {
                _output.Dequeue();
            }
        }
    }
}
