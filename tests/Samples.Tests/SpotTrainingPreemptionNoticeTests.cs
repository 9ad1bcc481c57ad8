using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// SpotTraining stopped by a cloud preemption notice: a fake metadata service on 127.0.0.1 (AWS IMDSv2, Azure Scheduled
/// Events or GCE metadata, as each cloud documents it) announces the preemption mid-run; the job finishes the step, saves,
/// exits 0 (Azure: acknowledging the event once the checkpoint is committed), and the restart runs no step twice.
/// </summary>
public sealed class SpotTrainingPreemptionNoticeTests : IClassFixture<SpotTrainingReference>, IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);
    private readonly SpotTrainingReference _reference;
    private readonly TempDirectory _dir = new("spot-notice");

    public SpotTrainingPreemptionNoticeTests(SpotTrainingReference reference)
    {
        _reference = reference;
    }

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("Aws", "AwsSpotInterruption")]
    [InlineData("Azure", "AzurePreempt")]
    [InlineData("Gce", "GcePreempted")]
    public async Task ANotice_FinishesTheStepSavesAndExitsZero_AndTheRestartRunsNoStepTwice(string cloud, string reason)
    {
        string log = _dir.Combine("batches.log");
        string checkpoints = _dir.Combine("checkpoints");
        using var metadata = new FakeMetadataService(checkpoints);
        string[] args = SpotTrainingTests.Arguments(
            _dir.Path,
            SpotTrainingReference.Steps,
            stepDelayMs: 15,
            log,
            saveSteps: 50,
            $"--InputPipelineCheckpointing:Preemption:{cloud}:Enabled=true",
            $"--InputPipelineCheckpointing:Preemption:{cloud}:Endpoint={metadata.Endpoint}",
            $"--InputPipelineCheckpointing:Preemption:{cloud}:PollInterval=00:00:00.100",
            $"--InputPipelineCheckpointing:Preemption:Azure:ResourceName={FakeMetadataService.VmName}");
        using (SampleProcess process = SampleProcess.Start("SpotTraining", _dir.Path, args))
        {
            using var deadline = new CancellationTokenSource(RunTimeout);
            while (SpotTrainingTests.ReadLog(log).Count < 12 || metadata.Polls < 2)
            {
                Assert.False(process.HasExited, process.Output);
                await Task.Delay(20, deadline.Token);
            }

            metadata.AnnouncePreemption();
            int code = await process.WaitAsync(RunTimeout);
            Assert.True(code == 0, process.Output);
            Assert.Contains($"after a stop request ({reason})", process.Output, StringComparison.Ordinal);
        }

        long stoppedAt = SpotTrainingTests.ReadLog(log).Max(l => l.Step);
        Assert.True(stoppedAt < SpotTrainingReference.Steps);
        Assert.NotEqual(0, stoppedAt % 50); // not a scheduled save: the stop itself saved
        if (cloud == "Azure")
        {
            // Acknowledged once, with the event's id, after both checkpoints at the stop step were committed.
            (string body, string[] filesThen) = Assert.Single(metadata.Acknowledgements);
            Assert.Equal($$"""{"StartRequests":[{"EventId":"{{FakeMetadataService.EventId}}"}]}""", body);
            Assert.Contains(filesThen, f => f.StartsWith($"input.ckpt-{stoppedAt}.", StringComparison.Ordinal) && f.EndsWith(".manifest", StringComparison.Ordinal));
            Assert.Contains(filesThen, f => f.StartsWith($"model.ckpt-{stoppedAt}.", StringComparison.Ordinal) && f.EndsWith(".manifest", StringComparison.Ordinal));
        }
        else
        {
            Assert.Empty(metadata.Acknowledgements);
        }

        // The restart, on a VM with no notice.
        metadata.Reset();
        (int restart, string output) = await SampleProcess.RunAsync("SpotTraining", _dir.Path, args, RunTimeout);

        Assert.True(restart == 0, output);
        List<(long Step, string Hash)> lines = SpotTrainingTests.ReadLog(log);
        Assert.Equal(Enumerable.Range(1, (int)SpotTrainingReference.Steps).Select(i => (long)i), lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal(_reference.Hashes[l.Step], l.Hash));
    }

    /// <summary>
    /// The three clouds' metadata routes on one HttpListener: AWS IMDSv2 (token required, 404 until a notice), Azure
    /// Scheduled Events (header <c>Metadata: true</c>, a <c>Preempt</c> event, <c>StartRequests</c> acknowledgements) and
    /// GCE <c>instance/preempted</c> (header <c>Metadata-Flavor: Google</c>, <c>wait_for_change</c> held until the value changes).
    /// </summary>
    private sealed class FakeMetadataService : IDisposable
    {
        public const string VmName = "spot-training-vm";
        public const string EventId = "C7061BAC-AFDC-4513-B24B-AA5F13A16123";
        private const string Token = "AQAEAFakeImdsV2Token==";
        private readonly HttpListener _listener = new();
        private readonly string _checkpoints;
        private readonly CancellationTokenSource _stop = new();
        private volatile bool _preempted;
        private int _polls;

        public FakeMetadataService(string checkpoints)
        {
            _checkpoints = checkpoints;
            int port = FreePort.Get();
            Endpoint = new Uri($"http://127.0.0.1:{port}/");
            _listener.Prefixes.Add(Endpoint.ToString());
            _listener.Start();
            _ = Task.Run(AcceptAsync);
        }

        public Uri Endpoint { get; }

        public int Polls => Volatile.Read(ref _polls);

        /// <summary>Each acknowledgement's body, with the checkpoint files that existed when it arrived.</summary>
        public ConcurrentQueue<(string Body, string[] FilesThen)> Acknowledgements { get; } = new();

        public void AnnouncePreemption() => _preempted = true;

        public void Reset() => _preempted = false;

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Close();
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                _ = Task.Run(() => HandleAsync(context));
            }
        }

        private async Task HandleAsync(HttpListenerContext context)
        {
            HttpListenerRequest request = context.Request;
            try
            {
                string path = request.Url!.AbsolutePath;
                switch (request.HttpMethod, path)
                {
                    case ("PUT", "/latest/api/token"):
                        await Answer(context, request.Headers["X-aws-ec2-metadata-token-ttl-seconds"] is null ? 400 : 200, Token);
                        break;
                    case ("GET", "/latest/meta-data/spot/instance-action"):
                        Interlocked.Increment(ref _polls);
                        if (request.Headers["X-aws-ec2-metadata-token"] != Token)
                        {
                            await Answer(context, 401, string.Empty);
                        }
                        else if (_preempted)
                        {
                            string time = DateTimeOffset.UtcNow.AddMinutes(2).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
                            await Answer(context, 200, $$"""{"action": "terminate", "time": "{{time}}"}""");
                        }
                        else
                        {
                            await Answer(context, 404, "Not Found");
                        }

                        break;
                    case ("GET", "/metadata/scheduledevents"):
                        Interlocked.Increment(ref _polls);
                        if (request.Headers["Metadata"] != "true" || string.IsNullOrEmpty(request.QueryString["api-version"]))
                        {
                            await Answer(context, 400, """{"error":"Bad request"}""");
                            break;
                        }

                        string events = _preempted
                            ? $$"""[{"EventId": "{{EventId}}", "EventStatus": "Scheduled", "EventType": "Preempt", "ResourceType": "VirtualMachine", "Resources": ["{{VmName}}"], "NotBefore": "{{DateTimeOffset.UtcNow.AddSeconds(30).ToString("R", CultureInfo.InvariantCulture)}}", "Description": "", "EventSource": "Platform", "DurationInSeconds": -1}]"""
                            : "[]";
                        await Answer(context, 200, $$"""{"DocumentIncarnation": {{(_preempted ? 2 : 1)}}, "Events": {{events}}}""");
                        break;
                    case ("POST", "/metadata/scheduledevents"):
                        using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
                        {
                            string body = await reader.ReadToEndAsync();
                            string[] files = Directory.Exists(_checkpoints) ? [.. Directory.EnumerateFiles(_checkpoints).Select(f => Path.GetFileName(f))] : [];
                            Acknowledgements.Enqueue((body, files));
                        }

                        await Answer(context, request.Headers["Metadata"] == "true" ? 200 : 400, string.Empty);
                        break;
                    case ("GET", "/computeMetadata/v1/instance/preempted"):
                        Interlocked.Increment(ref _polls);
                        if (request.Headers["Metadata-Flavor"] != "Google")
                        {
                            await Answer(context, 403, "Missing Metadata-Flavor");
                            break;
                        }

                        bool wasPreempted = _preempted;
                        if (request.QueryString["wait_for_change"] == "true" && request.QueryString["last_etag"] == ETag(wasPreempted))
                        {
                            int seconds = int.Parse(request.QueryString["timeout_sec"] ?? "60", CultureInfo.InvariantCulture);
                            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                            timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
                            while (_preempted == wasPreempted && !timeout.IsCancellationRequested)
                            {
                                await Task.Delay(10, CancellationToken.None);
                            }
                        }

                        bool now = _preempted;
                        context.Response.Headers["Metadata-Flavor"] = "Google";
                        context.Response.Headers["ETag"] = ETag(now);
                        await Answer(context, 200, now ? "TRUE" : "FALSE");
                        break;
                    default:
                        await Answer(context, 404, "Not Found");
                        break;
                }
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The client went away (the job stopped while a wait was held).
            }
        }

        private static string ETag(bool preempted) => preempted ? "5e1f0c2a9b7d3e44" : "0a9d3c7e12f4b8b6";

        private static async Task Answer(HttpListenerContext context, int status, string body)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }
}
