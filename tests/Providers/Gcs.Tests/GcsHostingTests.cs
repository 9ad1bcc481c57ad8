using GcsEmulator;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>The training loop over a GCS store that goes down mid-run, and the emulator run as its own process.</summary>
[Trait("Provider", "Gcs")]
public sealed class GcsHostingTests
{
    [Fact]
    public async Task TheTrainingLoop_KeepsRunning_WhenTheStoreGoesDownMidRun()
    {
        // A private emulator, so stopping it affects no other test (also when IPC_TEST_GCS_ENDPOINT names a shared one).
        GcsEmulatorServer server = await GcsEmulatorServer.StartAsync(port: 0);
        await using (server)
        {
            server.CreateBucket("ipc-loop");
            using var store = new GcsInputStateStore(new GcsStoreOptions
            {
                Bucket = "ipc-loop",
                BaseUri = server.BaseUri,
                MaxRetryAttempts = 2,
                RetryDelay = TimeSpan.FromMilliseconds(5),
                MaxRetryDelay = TimeSpan.FromMilliseconds(20),
                AttemptTimeout = TimeSpan.FromSeconds(10),
            });
            await using var hook = new CheckpointInputPipelineHook(
                store,
                new CheckpointInputPipelineHookOptions { SaveSteps = 2, OnSaveFailure = SaveFailurePolicy.LogAndContinue },
                NullLoggerFactory.Instance);
            var iterator = new CountingState();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            var steps = new List<long>();
            long? committedBeforeOutage = null;

            long reached = await new MonitoredTrainingSession(session, [hook]).RunAsync(
                async (context, cancellationToken) =>
                {
                    iterator.Position++;
                    steps.Add(context.GlobalStep);
                    if (context.GlobalStep == 10)
                    {
                        committedBeforeOutage = hook.LastCommittedStep;
                        await server.DisposeAsync(); // the store is unreachable from here on
                    }

                    return true;
                },
                lastStep: 30);

            Assert.Equal(30, reached);
            Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), steps);
            Assert.NotNull(committedBeforeOutage);
            Assert.True(hook.FailedSaveCount > 0, "saves after the outage should have failed");
            Assert.IsType<CheckpointStoreException>(hook.LastSaveFailure);
            Assert.True(hook.LastCommittedStep <= 10, $"nothing can be committed after the outage; last committed {hook.LastCommittedStep}");
        }
    }

    [Fact]
    public async Task AnUnconditionalWrite_IsRetried_WhenItCouldNotConnect()
    {
        GcsEmulatorServer server = await GcsEmulatorServer.StartAsync(port: 0);
        await using (server)
        {
            server.CreateBucket("ipc-refused");
            var recorder = new RecordingHandler();
            var options = new GcsStoreOptions
            {
                Bucket = "ipc-refused",
                BaseUri = server.BaseUri,
                MaxRetryAttempts = 2,
                RetryDelay = TimeSpan.FromMilliseconds(5),
                MaxRetryDelay = TimeSpan.FromMilliseconds(20),
            };
            using var store = new GcsInputStateStore(options, null, new RecordingClientFactory(recorder));
            Assert.Null(await store.ReadAsync("warm-up")); // the bucket is checked
            await server.DisposeAsync();
            recorder.Clear();

            var ex = await Assert.ThrowsAsync<CheckpointStoreException>(() => store.WriteAsync("k", Bytes.Text("x"), WriteCondition.None));

            Assert.Equal(3, recorder.Requests.Count); // a request that never reached the service is safe to send again
            Assert.Contains("after 3 attempts", ex.Message, StringComparison.Ordinal);
            Assert.Equal(HttpRequestError.ConnectionError, Assert.IsType<HttpRequestException>(ex.InnerException).HttpRequestError);
        }
    }

    [Fact]
    public async Task TheEmulatorAsAStandaloneProcess_ServesTheStore()
    {
        int port = FreePort.Get();
        string url = $"http://127.0.0.1:{port}";
        await using ExternalProcess emulator = await ExternalProcess.StartAsync(
            $"GcsEmulator on 127.0.0.1:{port}",
            EmulatorBinary.DotnetHost(),
            [EmulatorBinary.Dll(), "--urls", url, "--buckets", "ipc-standalone"],
            ExternalProcess.HttpReady(new Uri(url + "/_emulator/health")),
            TimeSpan.FromSeconds(60));
        using var store = new GcsInputStateStore(new GcsStoreOptions { Bucket = "ipc-standalone", BaseUri = new Uri(url) });
        byte[] content = GeneratedStream.Bytes((9 * 1024 * 1024) + 3, seed: 21);

        StoreVersion version = await store.WriteAsync("standalone/object", new NonSeekableStream(new MemoryStream(content)), WriteCondition.IfAbsent);
        await using StoreReadResult? read = await store.ReadAsync("standalone/object");

        Assert.NotNull(read);
        Assert.Equal(version, read.Info.Version);
        Assert.Equal(content, await Bytes.ReadAllAsync(read.Content));
        Assert.False(emulator.HasExited);
    }
}
