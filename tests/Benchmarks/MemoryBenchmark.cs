using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.S3;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goal 6: a synchronous save of a 1 GiB state to each store (Local, Azurite, moto, the GCS emulator) raises the
/// process's peak working set by at most 64 MiB beyond the state itself. Each save runs in a child process of its own (a clean peak), which allocates and
/// touches the state, saves once small to load the code paths, then resets the kernel's peak RSS (VmHWM, through
/// /proc/self/clear_refs) and also samples VmRSS every 2 ms while the 1 GiB save runs.
/// </summary>
public static class MemoryBenchmark
{
    /// <summary>The first argument that makes the program a memory-measuring child.</summary>
    public const string ChildCommand = "memory-child";

    private const int MiB = 1024 * 1024;
    private const string AzureConnectionVariable = "IPC_BENCH_AZURE_CONNECTION_STRING";

    /// <summary>Measures a save to each store, each in a child process.</summary>
    /// <param name="local">The Local store's root.</param>
    /// <param name="azurite">Azurite.</param>
    /// <param name="moto">moto.</param>
    /// <param name="gcs">The GCS emulator.</param>
    /// <param name="sizeMiB">The state's size.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The results.</returns>
    public static async Task<IReadOnlyList<BenchmarkResult>> RunAsync(LocalTarget local, AzuriteTarget azurite, MotoTarget moto, GcsEmulatorTarget gcs, int sizeMiB, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(azurite);
        ArgumentNullException.ThrowIfNull(moto);
        ArgumentNullException.ThrowIfNull(gcs);
        ArgumentNullException.ThrowIfNull(log);
        var results = new List<BenchmarkResult>();
        var targets = new (string Provider, StoreTarget Target, string[] Where)[]
        {
            ("local", local, ["--bucket", local.Root]),
            ("azure", azurite, ["--bucket", azurite.Container]),
            ("s3", moto, ["--endpoint", moto.Endpoint.AbsoluteUri, "--bucket", moto.Bucket]),
            ("gcs", gcs, ["--endpoint", gcs.Endpoint.AbsoluteUri, "--bucket", GcsEmulatorTarget.Bucket]),
        };
        foreach ((string provider, StoreTarget target, string[] where) in targets)
        {
            var environment = new Dictionary<string, string> { [AzureConnectionVariable] = azurite.ConnectionString };
            ChildResult ours = await RunChildAsync([ChildCommand, "--provider", provider, "--mode", "save", "--size-mib", sizeMiB.ToString(CultureInfo.InvariantCulture), .. where], environment);
            ChildResult raw = await RunChildAsync([ChildCommand, "--provider", provider, "--mode", "raw", "--size-mib", sizeMiB.ToString(CultureInfo.InvariantCulture), .. where], environment);
            log.WriteLine($"  {target.Name}: sync save of {sizeMiB} MiB raised the peak by {ours.PeakAboveStateMiB:0.0} MiB in {ours.Seconds:0.0} s; raw {target.RawUpload}: {raw.PeakAboveStateMiB:0.0} MiB in {raw.Seconds:0.0} s");
            results.Add(new BenchmarkResult(
                $"6. peak working set above the state, sync save of {sizeMiB} MiB [{target.Name}]",
                ours.PeakAboveStateMiB,
                64,
                "MiB",
                Goal.AtMost(1.0),
                $"baseline is the 64 MiB budget; the save allocated {ours.AllocatedMiB:0.0} MiB; the raw {target.RawUpload} of the same bytes raised it by {raw.PeakAboveStateMiB:0.0} MiB ({raw.AllocatedMiB:0.0} MiB allocated); save took {ours.Seconds:0.0} s (raw {raw.Seconds:0.0} s)"));
        }

        return results;
    }

    /// <summary>The child: allocates the state, saves it once, prints the peak above the state as one JSON line.</summary>
    /// <param name="args">The arguments after <see cref="ChildCommand"/>.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunChildAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"{name} is missing.");
        string provider = Arg("--provider");
        string mode = Arg("--mode");
        int sizeMiB = int.Parse(Arg("--size-mib"), CultureInfo.InvariantCulture);
        string bucket = Arg("--bucket");

        IInputStateStore store = provider switch
        {
            "local" => new InputPipeline.Checkpointing.Local.LocalInputStateStore(Path.Combine(bucket, $"memory-{mode}")),
            "gcs" => new InputPipeline.Checkpointing.Gcs.GcsInputStateStore(new InputPipeline.Checkpointing.Gcs.GcsStoreOptions { Bucket = bucket, Prefix = $"memory-{mode}", BaseUri = new Uri(Arg("--endpoint")) }),
            "s3" => new S3InputStateStore(new S3StoreOptions { Bucket = bucket, Prefix = $"memory-{mode}", ServiceUrl = new Uri(Arg("--endpoint")), ForcePathStyle = true, Region = "us-east-1" }, MotoTarget.Credentials),
            "azure" => new AzureBlobInputStateStore(new AzureBlobStoreOptions
            {
                ConnectionString = Environment.GetEnvironmentVariable(AzureConnectionVariable) ?? throw new InvalidOperationException($"{AzureConnectionVariable} is not set."),
                Container = bucket,
                Prefix = $"memory-{mode}",
                CreateContainerIfMissing = true,
            }),
            _ => throw new ArgumentException($"Unknown provider '{provider}'."),
        };
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions());
        Amazon.S3.AmazonS3Client? s3 = provider == "s3"
            ? new Amazon.S3.AmazonS3Client(MotoTarget.Credentials, new Amazon.S3.AmazonS3Config { ServiceURL = Arg("--endpoint"), AuthenticationRegion = "us-east-1", ForcePathStyle = true })
            : null;
        Azure.Storage.Blobs.BlobContainerClient? azure = provider == "azure"
            ? new Azure.Storage.Blobs.BlobContainerClient(Environment.GetEnvironmentVariable(AzureConnectionVariable), bucket)
            : null;
        Google.Cloud.Storage.V1.StorageClient? gcs = provider == "gcs" ? GcsEmulatorTarget.Client(new Uri(Arg("--endpoint")), new RequestCounter()) : null;

        async Task SaveAsync(long step, ByteState state)
        {
            if (mode == "save")
            {
                // Synchronous mode: the training thread waits, so the snapshot may reference the live state (no copy).
                await manager.SaveAsync(step, [new("state", state.CaptureState())]);
            }
            else if (provider == "local")
            {
                string path = Path.Combine(bucket, "memory-raw", step.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
                await file.WriteAsync(state.Bytes);
                file.Flush(flushToDisk: true);
            }
            else if (gcs is not null)
            {
                using var content = new MemoryStream(state.Bytes, writable: false);
                await gcs.UploadObjectAsync(GcsEmulatorTarget.Bucket, $"memory-raw/{step}", "application/octet-stream", content, GcsEmulatorTarget.RawUploadOptions);
            }
            else if (s3 is not null)
            {
                using var content = new MemoryStream(state.Bytes, writable: false);
                await s3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = bucket, Key = $"memory-raw/{step}", InputStream = content, AutoCloseStream = false });
            }
            else
            {
                await azure!.GetBlobClient($"memory-raw/{step}").UploadAsync(BinaryData.FromBytes(state.Bytes), overwrite: true);
            }
        }

        if (azure is not null)
        {
            await azure.CreateIfNotExistsAsync();
        }

        // Load and JIT the code paths with a small state first: their one-time cost is not the save's memory.
        await SaveAsync(1, new ByteState(4 * MiB, CaptureMode.Reference, seed: 3));
        var big = new ByteState(sizeMiB * MiB, CaptureMode.Reference, seed: 4);
        Harness.Settle();
        long before = ProcStatus.Read("VmRSS");
        bool reset = ProcStatus.TryResetPeak();
        using var sampler = new PeakSampler();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long start = Stopwatch.GetTimestamp();
        await SaveAsync(2, big);
        double allocatedMiB = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)MiB;
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long peak = Math.Max(sampler.Stop(), reset ? ProcStatus.Read("VmHWM") : 0);
        GC.KeepAlive(big);
        s3?.Dispose();
        gcs?.Dispose();
        (store as IDisposable)?.Dispose();
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(new ChildResult((peak - before) / (double)MiB, allocatedMiB, seconds, reset), ChildResultContext.Default.ChildResult));
        return 0;
    }

    private static async Task<ChildResult> RunChildAsync(string[] args, IReadOnlyDictionary<string, string> environment)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("The benchmark's own executable is unknown.");
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(MemoryBenchmark).Assembly.Location);
        }

        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string key, string value) in environment)
        {
            start.Environment[key] = value;
        }

        using Process child = Process.Start(start) ?? throw new InvalidOperationException($"{self} did not start.");
        Task<string> stdout = child.StandardOutput.ReadToEndAsync();
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await child.WaitForExitAsync(timeout.Token);
        string output = await stdout;
        string line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"The memory child ({string.Join(' ', args)}) exited with {child.ExitCode} and no result:{Environment.NewLine}{output}{await stderr}");
        return JsonSerializer.Deserialize(line["RESULT ".Length..], ChildResultContext.Default.ChildResult)
            ?? throw new InvalidOperationException("The memory child's result is empty.");
    }

    /// <summary>What a child measured.</summary>
    /// <param name="PeakAboveStateMiB">The peak RSS during the save minus the RSS with the state allocated, in MiB.</param>
    /// <param name="AllocatedMiB">The managed memory the save allocated, in MiB (garbage included).</param>
    /// <param name="Seconds">How long the save took.</param>
    /// <param name="KernelPeakReset">Whether the kernel's VmHWM could be reset (otherwise only the sampled peak counts).</param>
    internal sealed record ChildResult(double PeakAboveStateMiB, double AllocatedMiB, double Seconds, bool KernelPeakReset);

    /// <summary>Samples VmRSS every 2 ms on its own thread and keeps the maximum.</summary>
    private sealed class PeakSampler : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;
        private long _peak;

        public PeakSampler()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    _peak = Math.Max(_peak, ProcStatus.Read("VmRSS"));
                    Thread.Sleep(2);
                }
            })
            { IsBackground = true, Name = "peak RSS sampler" };
            _thread.Start();
        }

        public long Stop()
        {
            _stop = true;
            _thread.Join();
            return Math.Max(_peak, ProcStatus.Read("VmRSS"));
        }

        public void Dispose()
        {
            if (!_stop)
            {
                Stop();
            }
        }
    }
}

/// <summary>Reads this process's memory figures from /proc/self/status (Linux).</summary>
internal static class ProcStatus
{
    /// <summary>Returns a "kB" field of /proc/self/status in bytes.</summary>
    public static long Read(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                string[] parts = line[(field.Length + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new PlatformNotSupportedException($"/proc/self/status has no {field} (the memory benchmark needs Linux).");
    }

    /// <summary>Resets VmHWM to the current RSS (writing 5 to /proc/self/clear_refs, Linux 4.0 and later).</summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>Source-generated JSON for the child's result.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(MemoryBenchmark.ChildResult))]
internal sealed partial class ChildResultContext : System.Text.Json.Serialization.JsonSerializerContext;
