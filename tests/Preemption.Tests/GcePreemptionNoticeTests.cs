using InputPipeline.Checkpointing.Preemption.Tests.Fakes;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Tests;

/// <summary>The GCE source against a fake metadata server that holds wait_for_change requests.</summary>
#pragma warning disable CA1001 // The fake is disposed by IAsyncLifetime.DisposeAsync.
public sealed class GcePreemptionNoticeTests : IAsyncLifetime
{
    private readonly FakeGceMetadata _metadata = new();

    public Task InitializeAsync() => _metadata.StartAsync();

    public async Task DisposeAsync() => await _metadata.DisposeAsync();

    [Fact]
    public async Task WaitForChange_TheHeldRequestAnswersTrue_AndThePreemptionIsRequested()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Gce", _metadata.Endpoint));
        await Eventually.TrueAsync(() => _metadata.Waiting == 1, "a wait_for_change request is held");
        Assert.False(host.Monitor.IsPreemptionRequested);
        string etag = _metadata.ETag;

        _metadata.SetValue("TRUE");
        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);

        Assert.Equal(PreemptionReason.GcePreempted, notice.Reason);
        Assert.Null(notice.Deadline);
        IReadOnlyList<RecordedRequest> requests = _metadata.RequestsTo(FakeGceMetadata.Path);
        Assert.Equal(2, requests.Count); // one read, one wait that the change answered
        Assert.Equal(string.Empty, requests[0].Query);
        Assert.Equal($"?wait_for_change=true&last_etag={etag}&timeout_sec=300", requests[1].Query);
        Assert.All(requests, r => Assert.Equal("Google", r.Header("Metadata-Flavor")));
    }

    [Fact]
    public async Task AlreadyPreempted_TheFirstReadIsANotice()
    {
        _metadata.SetValue("TRUE");
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Gce", _metadata.Endpoint));

        Assert.Equal(PreemptionReason.GcePreempted, (await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout)).Reason);
    }

    [Fact]
    public async Task AChangeBetweenTwoWaits_IsNotMissed_ThanksToLastEtag()
    {
        // A wait that times out after a second; the value changes while no request is held.
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source(
            "Gce", _metadata.Endpoint, ("InputPipelineCheckpointing:Preemption:Gce:WaitTimeout", "00:00:01"), ("InputPipelineCheckpointing:Preemption:Gce:PollInterval", "00:00:02")));
        await Eventually.TrueAsync(() => _metadata.RequestsTo(FakeGceMetadata.Path).Count == 2 && _metadata.Waiting == 0, "the first wait timed out");
        Assert.False(host.Monitor.IsPreemptionRequested);

        _metadata.SetValue("TRUE");

        Assert.Equal(PreemptionReason.GcePreempted, (await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout)).Reason);
        Assert.Contains("last_etag=", _metadata.RequestsTo(FakeGceMetadata.Path)[^1].Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NotPreempted_IsNotAPreemption_AfterManyPolls()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source(
            "Gce", _metadata.Endpoint, ("InputPipelineCheckpointing:Preemption:Gce:WaitForChange", "false")));

        await Eventually.TrueAsync(() => _metadata.RequestsTo(FakeGceMetadata.Path).Count >= 6, "the source polled six times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        Assert.All(_metadata.RequestsTo(FakeGceMetadata.Path), r => Assert.Equal(string.Empty, r.Query));
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task AMalformedValue_IsLogged_NotANotice_AndPollingGoesOn()
    {
        _metadata.SetValue("<html>captive portal</html>");
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Gce", _metadata.Endpoint));

        await Eventually.TrueAsync(() => _metadata.RequestsTo(FakeGceMetadata.Path).Count >= 5, "the source polled five times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        LogEntry warning = Assert.Single(host.Logs.WithId(3023));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("captive portal", warning.Message, StringComparison.Ordinal);

        _metadata.SetValue("TRUE");
        Assert.Equal(PreemptionReason.GcePreempted, (await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout)).Reason);
    }

    [Fact]
    public async Task AnAnswerWithoutMetadataFlavor_IsNotTrusted()
    {
        _metadata.OmitFlavorHeader = true;
        _metadata.SetValue("TRUE");
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Gce", _metadata.Endpoint));

        await Eventually.TrueAsync(() => _metadata.RequestsTo(FakeGceMetadata.Path).Count >= 4, "the source polled four times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        Assert.Contains("Metadata-Flavor", Assert.Single(host.Logs.WithId(3023)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEndpointThatIsDown_IsLogged_AndPollingGoesOnUntilItAnswers()
    {
        int port = FreePort.Get();
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Gce", new Uri($"http://127.0.0.1:{port}/")));

        await Eventually.TrueAsync(() => host.Logs.WithId(3025).Count >= 3, "three more failed polls were logged");
        Assert.Equal(LogLevel.Warning, Assert.Single(host.Logs.WithId(3022)).Level);
        Assert.False(host.Monitor.IsPreemptionRequested);

        await using var late = new FakeGceMetadata();
        late.SetValue("TRUE");
        await late.StartAsync(port);

        Assert.Equal(PreemptionReason.GcePreempted, (await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout)).Reason);
    }

    [Fact]
    public async Task ATimeoutOfAHeldRequest_IsOnlyAnUnchangedValue()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source(
            "Gce", _metadata.Endpoint, ("InputPipelineCheckpointing:Preemption:Gce:WaitTimeout", "00:00:01")));

        await Eventually.TrueAsync(() => _metadata.RequestsTo(FakeGceMetadata.Path).Count >= 4, "three waits were made");

        Assert.False(host.Monitor.IsPreemptionRequested);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.All(_metadata.RequestsTo(FakeGceMetadata.Path).Skip(1), r => Assert.Contains("timeout_sec=1", r.Query, StringComparison.Ordinal));
    }
}
