namespace InputPipeline.Checkpointing.Preemption;

/// <summary>
/// Options of preemption handling, bound from the <c>InputPipelineCheckpointing:Preemption</c> configuration section
/// (subsections <c>Aws</c>, <c>Azure</c>, <c>Gce</c>). Every cloud notice source is off by default; host shutdown
/// (SIGTERM) is handled by default.
/// </summary>
/// <remarks><see cref="PreemptionOptionsValidator"/> checks them on start, with messages naming the configuration key.</remarks>
public sealed class PreemptionOptions
{
    /// <summary>The configuration section the options are bound from: <c>InputPipelineCheckpointing:Preemption</c>.</summary>
    public const string SectionPath = "InputPipelineCheckpointing:Preemption";

    /// <summary>The name of the section under <c>InputPipelineCheckpointing</c>: <c>Preemption</c>.</summary>
    public const string SectionName = "Preemption";

    /// <summary>
    /// Gets or sets whether the host stopping (<c>IHostApplicationLifetime.ApplicationStopping</c>: SIGTERM, Ctrl+C,
    /// <c>StopApplication()</c>) requests a preemption with <see cref="PreemptionReason.HostStopping"/>. Default <see langword="true"/>.
    /// </summary>
    public bool HandleHostStopping { get; set; } = true;

    /// <summary>Gets or sets the AWS EC2 spot interruption notice source (<c>…:Preemption:Aws</c>). Off by default.</summary>
    public AwsSpotNoticeOptions Aws { get; set; } = new();

    /// <summary>Gets or sets the Azure Scheduled Events source (<c>…:Preemption:Azure</c>). Off by default.</summary>
    public AzureScheduledEventsOptions Azure { get; set; } = new();

    /// <summary>Gets or sets the Google Compute Engine preemption source (<c>…:Preemption:Gce</c>). Off by default.</summary>
    public GcePreemptionNoticeOptions Gce { get; set; } = new();
}

/// <summary>What every cloud notice source has: a switch, the metadata endpoint, and how often and how long to ask it.</summary>
public abstract class NoticeSourceOptions
{
    /// <summary>The default <see cref="Endpoint"/>: <c>http://169.254.169.254/</c>, the link-local metadata address of AWS, Azure and Google Cloud.</summary>
    public static readonly Uri DefaultEndpoint = new("http://169.254.169.254/");

    /// <summary>Creates the options with a source's default poll interval and request timeout.</summary>
    /// <param name="pollInterval">The default <see cref="PollInterval"/>.</param>
    /// <param name="requestTimeout">The default <see cref="RequestTimeout"/>.</param>
    private protected NoticeSourceOptions(TimeSpan pollInterval, TimeSpan requestTimeout)
    {
        PollInterval = pollInterval;
        RequestTimeout = requestTimeout;
    }

    /// <summary>Gets or sets whether the source is polled. Default <see langword="false"/>: enable only the one for the cloud the job runs on.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets the base address of the metadata service; the source appends its documented path. An absolute http
    /// or https URI. Default <see cref="DefaultEndpoint"/>. Point it at a local fake to try the notices off-cloud.
    /// </summary>
    public Uri? Endpoint { get; set; } = DefaultEndpoint;

    /// <summary>Gets or sets the time between two polls, and before the next one after a failure. Greater than zero; the default depends on the source.</summary>
    public TimeSpan PollInterval { get; set; }

    /// <summary>Gets or sets how long one request may take before it counts as failed. Greater than zero; the default depends on the source.</summary>
    public TimeSpan RequestTimeout { get; set; }
}

/// <summary>
/// The AWS EC2 spot interruption notice source: with an IMDSv2 session token (<c>PUT /latest/api/token</c>), it polls
/// <c>GET /latest/meta-data/spot/instance-action</c>; 404 means no notice, 200 with
/// <c>{"action": "terminate|stop|hibernate", "time": "…"}</c> is a notice (about two minutes before the interruption).
/// </summary>
public sealed class AwsSpotNoticeOptions : NoticeSourceOptions
{
    /// <summary>The default <see cref="NoticeSourceOptions.PollInterval"/>: 5 seconds, as AWS recommends.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="NoticeSourceOptions.RequestTimeout"/>: 2 seconds.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The default <see cref="TokenTtl"/>: 6 hours (21,600 seconds, the longest IMDSv2 allows).</summary>
    public static readonly TimeSpan DefaultTokenTtl = TimeSpan.FromHours(6);

    /// <summary>The longest <see cref="TokenTtl"/> IMDSv2 allows: 21,600 seconds.</summary>
    public static readonly TimeSpan MaxTokenTtl = TimeSpan.FromSeconds(21_600);

    /// <summary>Creates the options with their defaults.</summary>
    public AwsSpotNoticeOptions()
        : base(DefaultPollInterval, DefaultRequestTimeout)
    {
    }

    /// <summary>
    /// Gets or sets the lifetime of the IMDSv2 session token, sent as <c>X-aws-ec2-metadata-token-ttl-seconds</c> (whole
    /// seconds); the token is reused until shortly before it expires, or until the service rejects it (401).
    /// 1 second to <see cref="MaxTokenTtl"/>. Default <see cref="DefaultTokenTtl"/>.
    /// </summary>
    public TimeSpan TokenTtl { get; set; } = DefaultTokenTtl;
}

/// <summary>
/// The Azure Scheduled Events source: it polls <c>GET /metadata/scheduledevents?api-version=…</c> (header
/// <c>Metadata: true</c>); an event with <c>EventType</c> <c>Preempt</c> whose <c>Resources</c> name this VM (or are
/// empty) is a notice (at least 30 seconds before the eviction). Once the job has saved, it acknowledges the event with
/// <c>POST /metadata/scheduledevents?api-version=…</c> and <c>{"StartRequests": [{"EventId": "…"}]}</c>, so that Azure
/// goes ahead without waiting for <c>NotBefore</c>.
/// </summary>
public sealed class AzureScheduledEventsOptions : NoticeSourceOptions
{
    /// <summary>The default <see cref="NoticeSourceOptions.PollInterval"/>: 1 second (a <c>Preempt</c> event gives at least 30 seconds).</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="NoticeSourceOptions.RequestTimeout"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="ApiVersion"/>: <c>2020-07-01</c>.</summary>
    public const string DefaultApiVersion = "2020-07-01";

    /// <summary>Creates the options with their defaults.</summary>
    public AzureScheduledEventsOptions()
        : base(DefaultPollInterval, DefaultRequestTimeout)
    {
    }

    /// <summary>Gets or sets the Scheduled Events API version, sent as <c>api-version</c>. Not empty. Default <see cref="DefaultApiVersion"/>.</summary>
    public string ApiVersion { get; set; } = DefaultApiVersion;

    /// <summary>
    /// Gets or sets this VM's name as Scheduled Events lists it in an event's <c>Resources</c> (compared
    /// case-insensitively). Default <see langword="null"/>: the machine's host name (<see cref="Environment.MachineName"/>),
    /// which is the VM name unless the OS host name was changed; for a scale set instance set the instance name, for
    /// example <c>myScaleSet_3</c>. An event with empty <c>Resources</c> applies to this VM whatever the name.
    /// </summary>
    public string? ResourceName { get; set; }

    /// <summary>
    /// Gets or sets whether the <c>Preempt</c> event is acknowledged (a <c>StartRequests</c> POST) once the job has saved
    /// (<see cref="PreemptionMonitor.AcknowledgeAsync(CancellationToken)"/>). Default <see langword="true"/>.
    /// </summary>
    public bool AcknowledgeAfterSave { get; set; } = true;
}

/// <summary>
/// The Google Compute Engine preemption source: it reads <c>GET /computeMetadata/v1/instance/preempted</c> (header
/// <c>Metadata-Flavor: Google</c>), then waits for it to change with <c>?wait_for_change=true&amp;last_etag=…&amp;timeout_sec=…</c>;
/// the value <c>TRUE</c> is a notice (about 30 seconds before the VM stops).
/// </summary>
public sealed class GcePreemptionNoticeOptions : NoticeSourceOptions
{
    /// <summary>The default <see cref="NoticeSourceOptions.PollInterval"/>: 1 second.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="NoticeSourceOptions.RequestTimeout"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="WaitTimeout"/>: 5 minutes.</summary>
    public static readonly TimeSpan DefaultWaitTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Creates the options with their defaults.</summary>
    public GcePreemptionNoticeOptions()
        : base(DefaultPollInterval, DefaultRequestTimeout)
    {
    }

    /// <summary>
    /// Gets or sets whether the source waits for the value to change (<c>wait_for_change=true</c>, a request the
    /// metadata server holds until the value changes or <see cref="WaitTimeout"/> passes), as Google documents for
    /// detecting preemption. When <see langword="false"/>, it reads the value every <see cref="NoticeSourceOptions.PollInterval"/>.
    /// Default <see langword="true"/>.
    /// </summary>
    public bool WaitForChange { get; set; } = true;

    /// <summary>
    /// Gets or sets how long the metadata server may hold a waiting request (<c>timeout_sec</c>, whole seconds) before
    /// it answers with the unchanged value; the request may take this plus <see cref="NoticeSourceOptions.RequestTimeout"/>.
    /// At least 1 second. Default <see cref="DefaultWaitTimeout"/>.
    /// </summary>
    public TimeSpan WaitTimeout { get; set; } = DefaultWaitTimeout;
}
