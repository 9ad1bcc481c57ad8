using InputPipeline.Checkpointing.Preemption.Tests.Fakes;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Tests;

/// <summary>The AWS spot notice source against a fake IMDSv2 that requires its session token.</summary>
#pragma warning disable CA1001 // The fake is disposed by IAsyncLifetime.DisposeAsync.
public sealed class AwsSpotNoticeTests : IAsyncLifetime
{
    private readonly FakeAwsImds _imds = new();

    public Task InitializeAsync() => _imds.StartAsync();

    public async Task DisposeAsync() => await _imds.DisposeAsync();

    [Fact]
    public async Task ANotice_RequestsAPreemption_WithTheActionAndTime_UsingTheTokenFlow()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Aws", _imds.Endpoint));
        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAwsImds.InstanceActionPath).Count >= 2, "the source polled twice");
        Assert.False(host.Monitor.IsPreemptionRequested);

        var time = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        _imds.SetNotice("terminate", time);
        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);

        Assert.Equal(PreemptionReason.AwsSpotInterruption, notice.Reason);
        Assert.Equal(time, notice.Deadline);
        Assert.Contains("terminate", notice.Detail, StringComparison.Ordinal);
        Assert.Equal(0, _imds.Unauthorized);
        string token = Assert.Single(_imds.IssuedTokens);
        Assert.All(_imds.RequestsTo(FakeAwsImds.InstanceActionPath), r => Assert.Equal(token, r.Header("X-aws-ec2-metadata-token")));
        RecordedRequest put = Assert.Single(_imds.RequestsTo(FakeAwsImds.TokenPath));
        Assert.Equal("PUT", put.Method);
        Assert.Equal("21600", put.Header("X-aws-ec2-metadata-token-ttl-seconds"));
        Assert.Single(host.Logs.WithId(3021), e => e.Level == LogLevel.Warning);
    }

    [Theory]
    [InlineData("stop")]
    [InlineData("hibernate")]
    public async Task EveryDocumentedAction_IsANotice(string action)
    {
        _imds.SetNotice(action, DateTimeOffset.UtcNow.AddMinutes(2));
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Aws", _imds.Endpoint));

        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);

        Assert.Equal(PreemptionReason.AwsSpotInterruption, notice.Reason);
        Assert.Contains(action, notice.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoNotice_IsNotAPreemption_AfterManyPolls()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Aws", _imds.Endpoint));

        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAwsImds.InstanceActionPath).Count >= 6, "the source polled six times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Single(_imds.IssuedTokens); // the token is reused
    }

    [Theory]
    [InlineData("<html>not json</html>")]
    [InlineData("""{"action": "reboot", "time": "2026-01-01T00:00:00Z"}""")]
    [InlineData("""{"action": "terminate"}""")]
    [InlineData("""["terminate"]""")]
    public async Task AMalformedAnswer_IsLogged_NotANotice_AndPollingGoesOn(string body)
    {
        _imds.SetInstanceAction(body);
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Aws", _imds.Endpoint));

        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAwsImds.InstanceActionPath).Count >= 5, "the source polled five times");

        Assert.False(host.Monitor.IsPreemptionRequested);
        LogEntry warning = Assert.Single(host.Logs.WithId(3023));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("AWS spot", warning.Message, StringComparison.Ordinal);
        Assert.NotEmpty(host.Logs.WithId(3025)); // the later failures, at Debug

        // Polling went on: a real notice is still seen.
        _imds.SetNotice("terminate", DateTimeOffset.UtcNow.AddMinutes(2));
        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);
        Assert.Equal(PreemptionReason.AwsSpotInterruption, notice.Reason);
        Assert.Single(host.Logs.WithId(3026)); // answering again
    }

    [Fact]
    public async Task ARejectedToken_IsReplaced_AndTheNoticeIsStillSeen()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Aws", _imds.Endpoint));
        await Eventually.TrueAsync(() => _imds.RequestsTo(FakeAwsImds.InstanceActionPath).Count >= 2, "the source polled twice");

        _imds.RevokeTokens();
        await Eventually.TrueAsync(() => _imds.IssuedTokens.Count >= 2, "a second token was requested");
        _imds.SetNotice("terminate", DateTimeOffset.UtcNow.AddMinutes(2));

        await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);
        Assert.True(_imds.Unauthorized >= 1);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning && e.EventId.Id != 3021);
    }

    [Fact]
    public async Task AShortTokenTtl_IsSentAndTheTokenRenewed()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(
            PreemptionTestHost.Source("Aws", _imds.Endpoint, ("InputPipelineCheckpointing:Preemption:Aws:TokenTtl", "00:00:01")));

        await Eventually.TrueAsync(() => _imds.IssuedTokens.Count >= 3, "the 1-second token was renewed twice");

        Assert.All(_imds.RequestsTo(FakeAwsImds.TokenPath), r => Assert.Equal("1", r.Header("X-aws-ec2-metadata-token-ttl-seconds")));
        Assert.False(host.Monitor.IsPreemptionRequested);
    }

    [Fact]
    public async Task AnEndpointThatIsDown_IsLogged_AndPollingGoesOnUntilItAnswers()
    {
        int port = FreePort.Get();
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(PreemptionTestHost.Source("Aws", new Uri($"http://127.0.0.1:{port}/")));

        await Eventually.TrueAsync(() => host.Logs.WithId(3025).Count >= 3, "three more failed polls were logged");
        LogEntry warning = Assert.Single(host.Logs.WithId(3022));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.False(host.Monitor.IsPreemptionRequested);

        await using var late = new FakeAwsImds();
        late.SetNotice("terminate", DateTimeOffset.UtcNow.AddMinutes(2));
        await late.StartAsync(port);

        PreemptionNotice notice = await host.Monitor.WaitForPreemptionAsync().WaitAsync(Eventually.Timeout);
        Assert.Equal(PreemptionReason.AwsSpotInterruption, notice.Reason);
    }

    [Fact]
    public async Task AnImdsThatRefusesTokens_IsLogged_AndNotANotice()
    {
        await using PreemptionTestHost host = await PreemptionTestHost.StartAsync(
            PreemptionTestHost.Source("Aws", _imds.Endpoint, ("InputPipelineCheckpointing:Preemption:Aws:Endpoint", new Uri(_imds.Endpoint, "elsewhere/").ToString())));

        await Eventually.TrueAsync(() => host.Logs.WithId(3025).Count >= 2, "failed polls were logged");

        LogEntry warning = Assert.Single(host.Logs.WithId(3024));
        Assert.Contains("404", warning.Message, StringComparison.Ordinal);
        Assert.False(host.Monitor.IsPreemptionRequested);
    }
}
