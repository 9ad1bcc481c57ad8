using System.Diagnostics;
using System.Diagnostics.Metrics;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;
using I = InputPipeline.Checkpointing.CheckpointingInstrumentNames;
using T = InputPipeline.Checkpointing.CheckpointingTagNames;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// The meter's instruments, observed with a <see cref="MeterListener"/> on a meter of the test's own factory, and the
/// activities, observed with an <see cref="ActivityListener"/> in the test's own trace. Durations run on a fake clock,
/// so their values are exact.
/// </summary>
public sealed class TelemetryTests(ITestOutputHelper output)
{
    private const string Provider = InMemoryInputStateStore.InMemoryProviderName;

    [Fact]
    public void Names_AreThePublishedConstants()
    {
        Assert.Equal("InputPipeline.Checkpointing", CheckpointingTelemetry.MeterName);
        Assert.Equal("InputPipeline.Checkpointing", CheckpointingTelemetry.ActivitySourceName);
        string[] instruments = [I.SaveDuration, I.RestoreDuration, I.StallDuration, I.BytesWritten, I.BytesRead, I.Commits, I.SaveFailures, I.RestoreFallbacks, I.Age];
        Assert.All(instruments, name => Assert.Matches("^input_pipeline\\.checkpoint\\.[a-z_.]+$", name));
        Assert.Equal(instruments.Length, instruments.Distinct().Count());
    }

    [Fact]
    public void EveryInstrument_HasAUnitAndADescription()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        using var manager = new CheckpointManager(new InMemoryInputStateStore(), new CheckpointManagerOptions(), meterFactory: meters);

        var units = recorder.Instruments.ToDictionary(i => i.Name, i => i.Unit);
        Assert.Equal(
            new Dictionary<string, string?>
            {
                [I.SaveDuration] = "s",
                [I.RestoreDuration] = "s",
                [I.StallDuration] = "s",
                [I.BytesWritten] = "By",
                [I.BytesRead] = "By",
                [I.Commits] = "{commit}",
                [I.SaveFailures] = "{save}",
                [I.RestoreFallbacks] = "{fallback}",
                [I.Age] = "s",
            },
            units);
        Assert.All(recorder.Instruments, i => Assert.False(string.IsNullOrWhiteSpace(i.Description)));
    }

    [Fact]
    public async Task Save_RecordsBytesWrittenEqualToThePartSizes_OneCommit_AndItsDuration()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var time = new FakeTimeProvider(Ckpt.Start);
        var memory = new InMemoryInputStateStore(time);

        // Every write takes one second: two parts, the manifest and the state file.
        var store = new ClockAdvancingStore(memory, time, TimeSpan.FromSeconds(1));
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions(), null, time, meters);

        CheckpointReference saved = await manager.SaveAsync(7, Ckpt.Bytes(("a", BlobState.Generate(3000, 1)), ("b", BlobState.Generate(500, 2))));

        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(memory, saved.ManifestKey);
        Assert.Equal(new long[] { 3000, 500 }, manifest.Parts.Select(p => p.Length));
        Assert.Equal(manifest.Parts.Select(p => (double)p.Length), recorder.Of(I.BytesWritten).Select(m => m.Value));
        Assert.All(recorder.Of(I.BytesWritten), m => Assert.Equal(("input", Provider, "By"), (m.Tag(T.Chain), m.Tag(T.Provider), m.Unit)));

        RecordedMeasurement commit = Assert.Single(recorder.Of(I.Commits));
        Assert.Equal(1, commit.Value);
        Assert.Equal("input", commit.Tag(T.Chain));

        RecordedMeasurement duration = Assert.Single(recorder.Of(I.SaveDuration));
        Assert.Equal(4.0, duration.Value);
        Assert.Equal(CheckpointingTagValues.Success, duration.Tag(T.Outcome));
        Assert.Null(duration.Tag(T.ErrorType));
        Assert.Empty(recorder.Of(I.SaveFailures));
    }

    [Fact]
    public async Task FailedSave_IncrementsSaveFailuresByExactlyOne_WithTheErrorType()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore(time));
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions(), null, time, meters);
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.EndsWith(".manifest", StringComparison.Ordinal)));

        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(1, Ckpt.Bytes(("a", [1, 2, 3]))));

        RecordedMeasurement failure = Assert.Single(recorder.Of(I.SaveFailures));
        Assert.Equal(1, failure.Value);
        Assert.Equal(typeof(CheckpointStoreException).FullName, failure.Tag(T.ErrorType));
        Assert.Equal("input", failure.Tag(T.Chain));
        Assert.Equal(CheckpointingTagValues.Failure, Assert.Single(recorder.Of(I.SaveDuration)).Tag(T.Outcome));
        Assert.Empty(recorder.Of(I.Commits));
        Assert.Equal(3, recorder.Sum(I.BytesWritten)); // the part was written before the manifest failed

        await manager.SaveAsync(2, Ckpt.Bytes(("a", [4, 5, 6])));

        Assert.Equal(1, recorder.Sum(I.SaveFailures));
        Assert.Equal(1, recorder.Sum(I.Commits));
    }

    [Fact]
    public async Task FailedSave_ThroughTheHook_CountsOnce_AsTheHookDoes()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2 }, meterFactory: meters);
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        // The save at step 4 fails at its first write; LogAndContinue goes on, and the save at 6 commits.
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key.StartsWith("input.ckpt-4.", StringComparison.Ordinal)));
        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 6);

        Assert.Equal(1, hook.FailedSaveCount);
        Assert.Equal(1, recorder.Sum(I.SaveFailures));
        Assert.Equal(3, recorder.Sum(I.Commits)); // 0, 2, 6
    }

    [Fact]
    public async Task CancelledSave_IsNotAFailure()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using var manager = new CheckpointManager(store, new CheckpointManagerOptions(), meterFactory: meters);
        using var cts = new CancellationTokenSource();
        store.Arm(Fault.Hang);

        Task save = manager.SaveAsync(1, Ckpt.Bytes(("a", [1])), cts.Token);
        await store.WaitForHangAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => save);
        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1])));

        Assert.Empty(recorder.Of(I.SaveFailures));
        Assert.Equal(
            new[] { CheckpointingTagValues.Cancelled, CheckpointingTagValues.Success },
            recorder.Of(I.SaveDuration).Select(m => m.Tag(T.Outcome)));
    }

    [Fact]
    public async Task Restore_RecordsBytesReadEqualToThePartSizes_AndItsDuration()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        using (CheckpointManager writer = Ckpt.Manager(store, time: time))
        {
            await writer.SaveAsync(5, Ckpt.Bytes(("a", BlobState.Generate(3000, 1)), ("b", BlobState.Generate(500, 2))));
        }

        using var reader = new CheckpointManager(store, new CheckpointManagerOptions(), null, time, meters);
        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("a", new BlobState([])), ("b", new BlobState([]))));

        Assert.Equal(5, restored!.Step);
        Assert.Equal(new[] { 3000.0, 500.0 }, recorder.Of(I.BytesRead).Select(m => m.Value));
        RecordedMeasurement duration = Assert.Single(recorder.Of(I.RestoreDuration));
        Assert.Equal((0.0, CheckpointingTagValues.Success, "input", Provider), (duration.Value, duration.Tag(T.Outcome), duration.Tag(T.Chain), duration.Tag(T.Provider)));
        Assert.Empty(recorder.Of(I.RestoreFallbacks));

        // Verification reads count as well.
        await reader.VerifyAsync(restored);
        Assert.Equal(7000, recorder.Sum(I.BytesRead));
    }

    [Fact]
    public async Task Restore_OfAnEmptyChain_HasTheOutcomeEmpty()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        using var reader = new CheckpointManager(new InMemoryInputStateStore(), new CheckpointManagerOptions(), meterFactory: meters);

        Assert.Null(await reader.RestoreLatestAsync(Ckpt.Targets(("a", new BlobState([])))));

        Assert.Equal(CheckpointingTagValues.Empty, Assert.Single(recorder.Of(I.RestoreDuration)).Tag(T.Outcome));
        Assert.Empty(recorder.Of(I.BytesRead));
    }

    [Fact]
    public async Task DamagedLatest_CountsOneFallback_AndTheBytesOfBothAttempts()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var store = new InMemoryInputStateStore();
        CheckpointReference latest;
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", BlobState.Generate(3000, 1)), ("b", BlobState.Generate(500, 2))));
            latest = await writer.SaveAsync(2, Ckpt.Bytes(("a", BlobState.Generate(2000, 3)), ("b", BlobState.Generate(700, 4))));
        }

        // Rot in part b of step 2, its length kept: both parts are read before the checksum of b fails.
        CheckpointManifest manifest = await Ckpt.ReadManifestAsync(store, latest.ManifestKey);
        store.Corrupt(manifest.Parts.Single(p => p.Name == "b").Key, bytes =>
        {
            bytes[10] ^= 0xFF;
            return bytes;
        });

        using var reader = new CheckpointManager(store, new CheckpointManagerOptions(), meterFactory: meters);
        CheckpointReference? restored = await reader.RestoreLatestAsync(Ckpt.Targets(("a", new BlobState([])), ("b", new BlobState([]))));

        Assert.Equal(1, restored!.Step);
        RecordedMeasurement fallback = Assert.Single(recorder.Of(I.RestoreFallbacks));
        Assert.Equal((1.0, "input", Provider), (fallback.Value, fallback.Tag(T.Chain), fallback.Tag(T.Provider)));
        Assert.Equal(1, reader.FallbackCount);
        Assert.Equal(2000 + 700 + 3000 + 500, recorder.Sum(I.BytesRead));
        Assert.Equal(CheckpointingTagValues.Success, Assert.Single(recorder.Of(I.RestoreDuration)).Tag(T.Outcome));
    }

    [Fact]
    public async Task Stall_IsRecordedOncePerCheckpoint_WithItsTrigger_AndTheTimeTheLoopWasBlocked()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2 }, null, time, meters);
        var iterator = new CountingIterator();
        var session = new TrainingSession();

        // Capturing the state takes 250 ms of the training loop's time.
        session.Iterators.Add("iterator", new SlowCaptureIterator(iterator, time, TimeSpan.FromMilliseconds(250)));

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 6, time);

        // Initial save at 0 (waited for), periodic at 2, 4 and 6 (uploaded in the background), and the final one, whose
        // checkpoint at 6 is already committed: nothing to capture, nothing left to wait for.
        Assert.Equal(
            new[] { ("initial", 0.25), ("periodic", 0.25), ("periodic", 0.25), ("periodic", 0.25), ("final", 0.0) },
            recorder.Of(I.StallDuration).Select(m => (m.Tag(T.Trigger)!, m.Value)));
        Assert.All(recorder.Of(I.StallDuration), m => Assert.Equal(("input", Provider), (m.Tag(T.Chain), m.Tag(T.Provider))));
        Assert.Equal(4, recorder.Sum(I.Commits));
    }

    [Fact]
    public async Task Stall_OfAForegroundSave_IncludesTheUpload()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new ClockAdvancingStore(new InMemoryInputStateStore(time), time, TimeSpan.FromSeconds(1));
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2, SaveInBackground = false }, null, time, meters);
        var iterator = new CountingIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);

        await Ckpt.RunAsync(session, iterator, [hook], lastStep: 3, time);

        // Each save writes a part, a manifest and the state file (3 s); the final save at 3 is one more.
        Assert.Equal(
            new[] { ("initial", 3.0), ("periodic", 3.0), ("final", 3.0) },
            recorder.Of(I.StallDuration).Select(m => (m.Tag(T.Trigger)!, m.Value)));
        Assert.Equal(new[] { 3.0, 3.0, 3.0 }, recorder.Of(I.SaveDuration).Select(m => m.Value));
    }

    [Fact]
    public async Task AgeGauge_IsTheTimeSinceTheLatestCommit_PerChain_OnTheManagersClock()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new InMemoryInputStateStore(time);
        var manager = new CheckpointManager(store, new CheckpointManagerOptions(), null, time, meters);
        using var worker1 = new CheckpointManager(store, new CheckpointManagerOptions { Chain = "input_worker_1" }, null, time, meters);

        Assert.Empty(recorder.Observe(I.Age));

        await manager.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        time.Advance(TimeSpan.FromSeconds(90));
        RecordedMeasurement age = Assert.Single(recorder.Observe(I.Age));
        Assert.Equal((90.0, "input", Provider), (age.Value, age.Tag(T.Chain), age.Tag(T.Provider)));

        await manager.SaveAsync(2, Ckpt.Bytes(("a", [2])));
        await worker1.SaveAsync(2, Ckpt.Bytes(("a", [2])));
        time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(
            new[] { ("input", 15.0), ("input_worker_1", 15.0) },
            recorder.Observe(I.Age).Select(m => (m.Tag(T.Chain)!, m.Value)).OrderBy(p => p.Item1, StringComparer.Ordinal));

        // A restarted process learns the age from the state file; one chain is reported once, however many managers know it.
        using var restarted = new CheckpointManager(store, new CheckpointManagerOptions(), null, time, meters);
        await restarted.ListCheckpointsAsync();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(20.0, Assert.Single(recorder.Observe(I.Age), m => m.Tag(T.Chain) == "input").Value);

        manager.Dispose();
        restarted.Dispose();
        Assert.Equal(new[] { "input_worker_1" }, recorder.Observe(I.Age).Select(m => m.Tag(T.Chain)));
    }

    [Fact]
    public async Task HookFromDependencyInjection_RecordsToTheRegisteredMeterFactory()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton<IInputStateStore>(new InMemoryInputStateStore());
        services.AddInputPipelineCheckpointing(o => o.SaveSteps = 1);
        await using ServiceProvider provider = services.BuildServiceProvider();
        IMeterFactory factory = provider.GetRequiredService<IMeterFactory>();
        using var recorder = new MetricRecorder(factory);

        await using (CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>())
        {
            var iterator = new CountingIterator();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            await Ckpt.RunAsync(session, iterator, [hook], lastStep: 2);
        }

        Assert.Equal(3, recorder.Sum(I.Commits)); // 0, 1, 2
        Assert.Equal(3 * 8, recorder.Sum(I.BytesWritten));
    }

    [Fact]
    public async Task SaveActivity_HasTheChainStepProviderAndManifest_AndACommitChild()
    {
        using var activities = new ActivityRecorder();
        using var manager = Ckpt.Manager(new InMemoryInputStateStore());

        CheckpointReference saved = await manager.SaveAsync(7, Ckpt.Bytes(("a", [1, 2, 3])));

        Activity save = Assert.Single(activities.Named(CheckpointingActivityNames.Save));
        Assert.Equal(ActivityStatusCode.Unset, save.Status);
        Assert.Equal("input", save.GetTagItem(T.Chain));
        Assert.Equal(Provider, save.GetTagItem(T.Provider));
        Assert.Equal(7L, save.GetTagItem(T.Step));
        Assert.Equal(saved.ManifestKey, save.GetTagItem(T.ManifestKey));
        Assert.Equal(CheckpointingTagValues.Success, save.GetTagItem(T.Outcome));

        Activity commit = Assert.Single(activities.Named(CheckpointingActivityNames.Commit));
        Assert.Equal(save.SpanId, commit.ParentSpanId);
        Assert.Equal(7L, commit.GetTagItem(T.Step));
        Assert.Equal(saved.ManifestKey, commit.GetTagItem(T.ManifestKey));
    }

    [Fact]
    public async Task FailedCommit_SetsTheErrorStatus_OnTheCommitAndTheSave()
    {
        using var activities = new ActivityRecorder();
        var store = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using var manager = Ckpt.Manager(store);
        store.Arm(Fault.Fail.When(c => c.Operation == StoreOperation.Write && c.Key == Ckpt.StateFile));

        await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(3, Ckpt.Bytes(("a", [1]))));

        foreach (string name in new[] { CheckpointingActivityNames.Commit, CheckpointingActivityNames.Save })
        {
            Activity activity = Assert.Single(activities.Named(name));
            Assert.Equal(ActivityStatusCode.Error, activity.Status);
            Assert.Contains("Injected fault", activity.StatusDescription, StringComparison.Ordinal);
            Assert.Equal(typeof(CheckpointStoreException).FullName, activity.GetTagItem(T.ErrorType));
            Assert.Equal(CheckpointingTagValues.Failure, activity.GetTagItem(T.Outcome));
            Assert.Contains(activity.Events, e => e.Name == "exception");
        }
    }

    [Fact]
    public async Task RestoreActivity_CarriesTheRestoredStep_AndAFallbackEventPerDamagedCheckpoint()
    {
        var store = new InMemoryInputStateStore();
        CheckpointReference latest;
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1, 2, 3])));
            latest = await writer.SaveAsync(2, Ckpt.Bytes(("a", [4, 5, 6])));
        }

        store.Corrupt((await Ckpt.ReadManifestAsync(store, latest.ManifestKey)).Parts[0].Key, b => [.. b, 9]);
        using var activities = new ActivityRecorder();
        using var reader = Ckpt.Manager(store);

        await reader.RestoreLatestAsync(Ckpt.Targets(("a", new BlobState([]))));

        Activity restore = Assert.Single(activities.Named(CheckpointingActivityNames.Restore));
        Assert.Equal(ActivityStatusCode.Unset, restore.Status);
        Assert.Equal(1L, restore.GetTagItem(T.Step));
        Assert.Equal(1, restore.GetTagItem(T.Fallbacks));
        Assert.Null(restore.GetTagItem(T.RequestedStep));
        ActivityEvent fallback = Assert.Single(restore.Events, e => e.Name == CheckpointingActivityNames.FallbackEvent);
        Assert.Equal(2L, fallback.Tags.Single(t => t.Key == T.Step).Value);
        Assert.Equal(typeof(CheckpointCorruptedException).FullName, fallback.Tags.Single(t => t.Key == T.ErrorType).Value);
    }

    [Fact]
    public async Task RestoreAtAMissingStep_IsAnErrorActivity_AndAFailedRestore()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var store = new InMemoryInputStateStore();
        using (CheckpointManager writer = Ckpt.Manager(store))
        {
            await writer.SaveAsync(1, Ckpt.Bytes(("a", [1])));
        }

        using var activities = new ActivityRecorder();
        using var reader = new CheckpointManager(store, new CheckpointManagerOptions(), meterFactory: meters);
        await Assert.ThrowsAsync<CheckpointNotFoundException>(() => reader.RestoreAsync(5, Ckpt.Targets(("a", new BlobState([])))));

        Activity restore = Assert.Single(activities.Named(CheckpointingActivityNames.Restore));
        Assert.Equal(ActivityStatusCode.Error, restore.Status);
        Assert.Equal(5L, restore.GetTagItem(T.RequestedStep));
        Assert.Equal(typeof(CheckpointNotFoundException).FullName, restore.GetTagItem(T.ErrorType));
        RecordedMeasurement duration = Assert.Single(recorder.Of(I.RestoreDuration));
        Assert.Equal((CheckpointingTagValues.Failure, typeof(CheckpointNotFoundException).FullName), (duration.Tag(T.Outcome), duration.Tag(T.ErrorType)));
    }

    [Fact]
    public async Task CutActivity_CarriesTheChainCountAndTheStep()
    {
        var store = new InMemoryInputStateStore();
        foreach (string chain in new[] { "input_worker_0", "input_worker_1" })
        {
            using CheckpointManager writer = Ckpt.Manager(store, chain: chain);
            await writer.SaveAsync(10, Ckpt.Bytes(("a", [1])));
        }

        using var activities = new ActivityRecorder();
        await CheckpointCuts.FindLatestCommonStepAsync(store, "worker", 2);

        Activity cut = Assert.Single(activities.Named(CheckpointingActivityNames.Cut));
        Assert.Equal(2, cut.GetTagItem(T.ChainCount));
        Assert.Equal(10L, cut.GetTagItem(T.Step));
        Assert.Equal(CheckpointingTagValues.Success, cut.GetTagItem(T.Outcome));
    }

    [Fact]
    public async Task LogEvents_ForOperators_HaveTheirIdsAndLevels()
    {
        var logs = new ListLoggerProvider();
        using ILoggerFactory loggers = logs.CreateFactory();
        var time = new FakeTimeProvider(Ckpt.Start);
        var store = new ClockAdvancingStore(new InMemoryInputStateStore(time), time, TimeSpan.FromMilliseconds(500));
        await using (var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 2, SaveInBackground = false }, loggers, time))
        {
            var iterator = new CountingIterator();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            await Ckpt.RunAsync(session, iterator, [hook], lastStep: 2, time);
        }

        using (var reader = new CheckpointManager(store, new CheckpointManagerOptions(), loggers.CreateLogger<CheckpointManager>(), time))
        {
            await reader.RestoreLatestAsync(Ckpt.Targets(("iterator", new CountingIterator())));
            await Assert.ThrowsAsync<CheckpointNotFoundException>(() => reader.RestoreAsync(99, Ckpt.Targets(("iterator", new CountingIterator()))));
        }

        using (var empty = new CheckpointManager(new InMemoryInputStateStore(), new CheckpointManagerOptions(), loggers.CreateLogger<CheckpointManager>()))
        {
            await empty.RestoreLatestAsync(Ckpt.Targets(("iterator", new CountingIterator())));
        }

        var failing = new FaultInjectingInputStateStore(new InMemoryInputStateStore());
        using (var manager = new CheckpointManager(failing, new CheckpointManagerOptions(), loggers.CreateLogger<CheckpointManager>()))
        {
            failing.Arm(Fault.Fail.When(c => c.Key.EndsWith(".manifest", StringComparison.Ordinal)));
            await Assert.ThrowsAsync<CheckpointStoreException>(() => manager.SaveAsync(1, Ckpt.Bytes(("a", [1]))));
        }

        foreach (ListLoggerProvider.LogEntry entry in logs.Entries)
        {
            output.WriteLine($"{entry.EventId.Id} {entry.Level} {entry.Category}: {entry.Message}");
        }

        (int Id, LogLevel Level)[] expected =
        [
            (1011, LogLevel.Debug), (1012, LogLevel.Debug), (1013, LogLevel.Debug), (1014, LogLevel.Debug),
            (1015, LogLevel.Debug), (1016, LogLevel.Warning), (1017, LogLevel.Debug), (1018, LogLevel.Debug), (1104, LogLevel.Debug),
        ];
        foreach ((int id, LogLevel level) in expected)
        {
            Assert.Contains(logs.Entries, e => e.EventId.Id == id && e.Level == level);
        }

        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 1001); // a new chain is not a lost state file
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1012 && e.Message.Contains("in 1.5 s", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1104 && e.Message == "The initial checkpoint of chain input at step 0 held the training loop for 1.5 s.");
    }
}
