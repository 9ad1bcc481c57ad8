using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Preemption.Tests.Fakes;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Tests;

/// <summary>The Azure Scheduled Events source against a fake Instance Metadata Service.</summary>
#pragma warning disable CA1001 // The fake is disposed by IAsyncLifetime.DisposeAsync.
public sealed class AzureScheduledEventsTests : IAsyncLifetime
{
    private const string ThisVm = "train-vm-7";
    private readonly FakeAzureScheduledEvents _imds = new();

    public Task InitializeAsync() => _imds.StartAsync();

    public async Task DisposeAsync() => await _imds.DisposeAsync();

    private Task<PreemptionTestHost> StartHostAsync(params (string Key, string? Value)[] more) =>
        PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Azure", _imds.Endpoint, [("InputPipelineCheckpointing:Preemption:Azure:ResourceName", ThisVm), .. more]));

    [Fact]
    public async Task APreemptOfThisVm_RequestsAPreemption_WithTheEventAndNotBefore()
    {
        await using PreemptionTestHost host = await StartHostAsync();
        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAzureScheduledEvents.Path).Count >= 2, "the source polled twice");
        Assert.False(host.Monitor.IsPreemptionRequested);

        _imds.SetEvents(FakeAzureScheduledEvents.Event("602d9444-d2cd-49c7-8624-8643e7171297", "Preempt", ["other-vm", ThisVm], notBefore: "Mon, 19 Sep 2016 18:29:47 GMT"));
        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);

        Assert.Equal(PreemptionReason.AzurePreempt, notice.Reason);
        Assert.Equal(new DateTimeOffset(2016, 9, 19, 18, 29, 47, TimeSpan.Zero), notice.Deadline);
        Assert.Contains("602d9444-d2cd-49c7-8624-8643e7171297", notice.Detail, StringComparison.Ordinal);
        Assert.All(_imds.RequestsTo(FakeAzureScheduledEvents.Path), r =>
        {
            Assert.Equal("true", r.Header("Metadata"));
            Assert.Equal("?api-version=2020-07-01", r.Query);
        });
        Assert.Empty(_imds.Acknowledgements); // nothing is acknowledged before the job has saved
    }

    [Fact]
    public async Task APreemptWithNoResources_AppliesToThisVm()
    {
        _imds.SetEvents(FakeAzureScheduledEvents.Event("e1", "Preempt", [], status: "Started", notBefore: ""));
        await using PreemptionTestHost host = await StartHostAsync();

        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);

        Assert.Equal(PreemptionReason.AzurePreempt, notice.Reason);
        Assert.Null(notice.Deadline);
    }

    [Fact]
    public async Task OtherEvents_AndPreemptsOfOtherVms_AreNotAPreemption()
    {
        _imds.SetEvents(
            FakeAzureScheduledEvents.Event("e1", "Preempt", ["other-vm"]),
            FakeAzureScheduledEvents.Event("e2", "Freeze", [ThisVm]),
            FakeAzureScheduledEvents.Event("e3", "Reboot", []));
        await using PreemptionTestHost host = await StartHostAsync();

        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAzureScheduledEvents.Path).Count >= 6, "the source polled six times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Single(host.Logs.WithId(3050)); // the events are noted once per incarnation
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"DocumentIncarnation": 3}""")]
    [InlineData("""{"DocumentIncarnation": 3, "Events": [{"EventType": "Preempt", "Resources": []}]}""")]
    [InlineData("""{"DocumentIncarnation": 3, "Events": [{"EventId": "x", "EventType": "Preempt", "Resources": "train-vm-7"}]}""")]
    public async Task AMalformedDocument_IsLogged_NotANotice_AndPollingGoesOn(string body)
    {
        _imds.SetRawDocument(body);
        await using PreemptionTestHost host = await StartHostAsync();

        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAzureScheduledEvents.Path).Count >= 5, "the source polled five times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        Assert.Equal(LogLevel.Warning, Assert.Single(host.Logs.WithId(3023)).Level);

        _imds.SetEvents(FakeAzureScheduledEvents.Event("e9", "Preempt", [ThisVm]));
        Assert.Equal(PreemptionReason.AzurePreempt, (await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout)).Reason);
    }

    [Fact]
    public async Task AnEndpointThatIsDown_IsLogged_AndPollingGoesOnUntilItAnswers()
    {
        int port = FreePort.Get();
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source(
            "Azure", new Uri($"http://127.0.0.1:{port}/"), ("InputPipelineCheckpointing:Preemption:Azure:ResourceName", ThisVm)));

        await Eventually.TrueAsync(() => host.Logs.WithId(3025).Count >= 3, "three more failed polls were logged");
        Assert.Equal(LogLevel.Warning, Assert.Single(host.Logs.WithId(3022)).Level);

        await using var late = new FakeAzureScheduledEvents();
        late.SetEvents(FakeAzureScheduledEvents.Event("e1", "Preempt", [ThisVm]));
        await late.StartAsync(port);

        Assert.Equal(PreemptionReason.AzurePreempt, (await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout)).Reason);
    }

    [Fact]
    public async Task TheAcknowledgement_IsPostedWithTheEventId_OnlyAfterTheFinalCheckpointIsCommitted()
    {
        await using PreemptionTestHost host = await StartHostAsync();
        var store = new InMemoryInputStateStore();
        await using var checkpoints = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 1000 });
        PreemptionHook preemption = host.Host.Services.GetRequiredService<PreemptionHook>();
        bool saved = false;
        bool? savedWhenAcknowledged = null;
        int acknowledgementsBeforeSave = -1;
        _imds.OnAcknowledgement = _ => savedWhenAcknowledged = Volatile.Read(ref saved);
        var probe = new ProbeHook(_ =>
        {
            // Runs after the checkpoint hook's EndAsync (the final save, committed) and before the preemption hook's.
            acknowledgementsBeforeSave = _imds.Acknowledgements.Count;
            Volatile.Write(ref saved, checkpoints.LastCommittedStep is not null);
            return ValueTask.CompletedTask;
        });
        var session = new TrainingSession();
        var iterator = new CountingIterator();
        session.Iterators.Add("iterator", iterator);

        long reached = await new MonitoredTrainingSession(session, [checkpoints, probe, preemption]).RunAsync(
            async (context, ct) =>
            {
                await iterator.MoveNextAsync(ct);
                if (context.GlobalStep == 5)
                {
                    _imds.SetEvents(FakeAzureScheduledEvents.Event("602d9444-d2cd-49c7-8624-8643e7171297", "Preempt", [ThisVm]));
                }

                await Task.Delay(5, ct);
                return true;
            },
            lastStep: 1_000_000).WaitAsync(Eventually.Timeout);

        Assert.Equal(reached, preemption.StopRequestedAtStep);
        Assert.Equal(reached, checkpoints.LastCommittedStep);
        Assert.Equal(0, acknowledgementsBeforeSave);
        Assert.True(savedWhenAcknowledged);
        Assert.Equal(["602d9444-d2cd-49c7-8624-8643e7171297"], Assert.Single(_imds.Acknowledgements));
        RecordedRequest post = Assert.Single(_imds.Requests, r => r.Method == "POST");
        Assert.Equal("true", post.Header("Metadata"));
        Assert.Equal("?api-version=2020-07-01", post.Query);
        Assert.Equal("""{"StartRequests":[{"EventId":"602d9444-d2cd-49c7-8624-8643e7171297"}]}""", post.Body);
        Assert.True(host.Monitor.IsAcknowledged);
        Assert.Single(host.Logs.WithId(3051));
    }

    [Fact]
    public async Task WhenTheFinalSaveFails_NothingIsAcknowledged()
    {
        _imds.SetEvents(FakeAzureScheduledEvents.Event("e1", "Preempt", [ThisVm]));
        await using PreemptionTestHost host = await StartHostAsync();
        await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);
        PreemptionHook preemption = host.Host.Services.GetRequiredService<PreemptionHook>();
        var failingSave = new ProbeHook(_ => throw new CheckpointStoreException("InMemory", "checkpoint_input", "the store is gone"));
        var session = new TrainingSession();

        await Assert.ThrowsAsync<CheckpointStoreException>(() => new MonitoredTrainingSession(session, [failingSave, preemption]).RunAsync((_, _) => ValueTask.FromResult(true), lastStep: 100));

        Assert.Equal(1, session.GlobalStep);
        Assert.False(host.Monitor.IsAcknowledged);
        Assert.Empty(_imds.Acknowledgements);
    }

    [Fact]
    public async Task WithAcknowledgeAfterSaveOff_NothingIsPosted()
    {
        _imds.SetEvents(FakeAzureScheduledEvents.Event("e1", "Preempt", [ThisVm]));
        await using PreemptionTestHost host = await StartHostAsync(("InputPipelineCheckpointing:Preemption:Azure:AcknowledgeAfterSave", "false"));
        await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);

        await host.Monitor.AcknowledgeAsync();

        Assert.True(host.Monitor.IsAcknowledged);
        Assert.DoesNotContain(_imds.Requests, r => r.Method == "POST");
    }

    [Fact]
    public async Task ARejectedAcknowledgement_IsLogged_AndDoesNotFailTheJob()
    {
        _imds.SetEvents(FakeAzureScheduledEvents.Event("e1", "Preempt", [ThisVm]));
        await using PreemptionTestHost host = await StartHostAsync();
        await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);
        await Eventually.TrueAsync(() => host.Logs.WithId(3021).Count == 1, "the notice was logged");
        await _imds.DisposeAsync(); // the endpoint goes away before the save completes

        await host.Monitor.AcknowledgeAsync().WaitAsync(Eventually.Timeout);

        Assert.Equal(LogLevel.Warning, Assert.Single(host.Logs.WithId(3052)).Level);
    }
}
