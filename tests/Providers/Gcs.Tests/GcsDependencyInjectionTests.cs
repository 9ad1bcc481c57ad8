using Google.Apis.Auth.OAuth2;
using Google.Cloud.Storage.V1;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary><c>AddInputPipelineCheckpointing(configuration).AddGcsStore()</c>: binding, selection, validation on start, credentials.</summary>
[Collection(GcsEmulatorGroup.Name)]
[Trait("Provider", "Gcs")]
public sealed class GcsDependencyInjectionTests(GcsEmulatorFixture emulator) : IDisposable
{
    private readonly TempDirectory _dir = new("gcs-di");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ProviderGcs_ResolvesTheGcsStore_BoundFromEveryKey_AndTheHookCheckpointsThroughIt()
    {
        string bucket = GcsEmulatorFixture.NewBucketName();
        emulator.Track(bucket);
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Gcs",
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:KeepMax"] = "2",
            ["InputPipelineCheckpointing:Gcs:Bucket"] = bucket,
            ["InputPipelineCheckpointing:Gcs:Prefix"] = "jobs/run-7",
            ["InputPipelineCheckpointing:Gcs:BaseUri"] = emulator.BaseUri.ToString(),
            ["InputPipelineCheckpointing:Gcs:ProjectId"] = "ipc-tests",
            ["InputPipelineCheckpointing:Gcs:CreateBucketIfMissing"] = "true",
            ["InputPipelineCheckpointing:Gcs:Anonymous"] = "true",
            ["InputPipelineCheckpointing:Gcs:ResumableThreshold"] = "1048576",
            ["InputPipelineCheckpointing:Gcs:ChunkSize"] = "524288",
            ["InputPipelineCheckpointing:Gcs:MaxRetryAttempts"] = "3",
            ["InputPipelineCheckpointing:Gcs:RetryDelay"] = "00:00:00.020",
            ["InputPipelineCheckpointing:Gcs:MaxRetryDelay"] = "00:00:00.100",
            ["InputPipelineCheckpointing:Gcs:AttemptTimeout"] = "00:00:45",
        })).AddGcsStore();
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        GcsStoreOptions options = provider.GetRequiredService<IOptions<GcsStoreOptions>>().Value;
        GcsInputStateStore store = Assert.IsType<GcsInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        CheckpointInputPipelineHook hook = provider.GetRequiredService<CheckpointInputPipelineHook>();
        var iterator = new CountingState();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        await new MonitoredTrainingSession(session, [hook]).RunAsync((_, _) => { iterator.Position++; return ValueTask.FromResult(true); }, lastStep: 12);

        Assert.Equal(
            (bucket, "jobs/run-7", emulator.BaseUri, "ipc-tests", true, (bool?)true, 1048576, 524288, 3, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(45)),
            (options.Bucket, options.Prefix, options.BaseUri, options.ProjectId, options.CreateBucketIfMissing, options.Anonymous, options.ResumableThreshold, options.ChunkSize, options.MaxRetryAttempts, options.RetryDelay, options.MaxRetryDelay, options.AttemptTimeout));
        Assert.Equal((bucket, "jobs/run-7/"), (store.Bucket, store.Prefix));
        Assert.Same(store, hook.Manager.Store);
        Assert.Equal([12L, 10L], (await hook.Manager.ListCheckpointsAsync()).Select(c => c.Step));
        Assert.Contains("jobs/run-7/checkpoint_input", await emulator.ListNamesAsync(bucket));
    }

    [Fact]
    public async Task HostStart_WithProviderGcsAndNoBucket_FailsNamingTheKey()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Gcs",
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:Gcs:Bucket: the bucket is not set.", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bucket", "Not_A_Bucket", "InputPipelineCheckpointing:Gcs:Bucket")]
    [InlineData("ChunkSize", "300000", "InputPipelineCheckpointing:Gcs:ChunkSize")]
    [InlineData("ChunkSize", "1024", "InputPipelineCheckpointing:Gcs:ChunkSize")]
    [InlineData("ResumableThreshold", "-1", "InputPipelineCheckpointing:Gcs:ResumableThreshold")]
    [InlineData("MaxRetryAttempts", "-1", "InputPipelineCheckpointing:Gcs:MaxRetryAttempts")]
    [InlineData("CreateBucketIfMissing", "true", "InputPipelineCheckpointing:Gcs:ProjectId")]
    [InlineData("CredentialsFile", "/no/such/key.json", "InputPipelineCheckpointing:Gcs:CredentialsFile")]
    [InlineData("BaseUri", "ftp://example.invalid/", "InputPipelineCheckpointing:Gcs:BaseUri")]
    [InlineData("Prefix", "a/../b", "InputPipelineCheckpointing:Gcs:Prefix")]
    [InlineData("MaxRetryDelay", "00:00:00.001", "InputPipelineCheckpointing:Gcs:MaxRetryDelay")]
    [InlineData("AttemptTimeout", "00:00:00", "InputPipelineCheckpointing:Gcs:AttemptTimeout")]
    public async Task HostStart_WithAnInvalidGcsOption_FailsNamingTheKey(string key, string value, string expectedKey)
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Gcs",
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:Gcs:Bucket"] = "ipc-valid",
            [$"InputPipelineCheckpointing:Gcs:{key}"] = value,
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expectedKey + ":", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostStart_WithAnotherProviderSelected_DoesNotValidateTheGcsOptions()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Local",
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("local"),
            ["InputPipelineCheckpointing:Gcs:ChunkSize"] = "12345",
        });

        await host.StartAsync();

        Assert.IsType<LocalInputStateStore>(host.Services.GetRequiredService<IInputStateStore>());
        await host.StopAsync();
    }

    [Fact]
    public async Task AddGcsStoreTwice_IsSafe_AndEveryConfigureRunsAfterBinding()
    {
        var services = new ServiceCollection();
        IInputPipelineCheckpointingBuilder builder = services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "gcs",
            ["InputPipelineCheckpointing:SaveSteps"] = "1",
            ["InputPipelineCheckpointing:Gcs:Bucket"] = "from-configuration",
            ["InputPipelineCheckpointing:Gcs:Prefix"] = "configured",
        }));
        builder.AddGcsStore(o => o.Bucket = "from-code").AddGcsStore(o => o.ChunkSize = 1024 * 1024);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        GcsStoreOptions options = provider.GetRequiredService<IOptions<GcsStoreOptions>>().Value;
        Assert.Equal(("from-code", "configured", 1024 * 1024), (options.Bucket, options.Prefix, options.ChunkSize));
        Assert.Equal(2, provider.GetServices<InputStateStoreRegistration>().Count()); // Local and Gcs
        Assert.Single(provider.GetServices<IValidateOptions<GcsStoreOptions>>().OfType<GcsStoreOptionsValidator>());
        Assert.IsType<GcsInputStateStore>(provider.GetRequiredService<IInputStateStore>());
    }

    [Fact]
    public async Task AKeyedClientOfTheApplication_IsUsed_WithItsCredentials()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsDependencyInjectionTests));
        var recorder = new RecordingHandler();
        using StorageClient client = Clients.For(emulator.BaseUri, recorder, GoogleCredential.FromAccessToken("keyed-token"));
        var services = new ServiceCollection();
        services.AddKeyedSingleton(GcsInputStateStore.ClientServiceKey, client);
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Gcs",
            ["InputPipelineCheckpointing:SaveSteps"] = "1",
            ["InputPipelineCheckpointing:Gcs:Bucket"] = bucket,
            ["InputPipelineCheckpointing:Gcs:BaseUri"] = "http://127.0.0.1:1/", // not used: the client has its endpoint
        })).AddGcsStore();
        await using ServiceProvider provider = services.BuildServiceProvider();

        IInputStateStore store = provider.GetRequiredService<IInputStateStore>();
        string key = $"di-{Guid.NewGuid():N}";
        await store.WriteAsync(key, Bytes.Text("x"), WriteCondition.IfAbsent);

        Assert.NotEmpty(recorder.Requests);
        Assert.All(recorder.Requests, r => Assert.Equal("Bearer keyed-token", r.Authorization));
        Assert.NotNull(await emulator.GetObjectAsync(bucket, key));
    }

    [Fact]
    public async Task AKeyedCredentialOfTheApplication_IsWhatTheStoresOwnClientAuthenticatesWith()
    {
        string bucket = await emulator.BucketForAsync(nameof(GcsDependencyInjectionTests));
        using var tokens = new FakeTokenServer("keyed-credential-token");
        string keyFile = ServiceAccountKeyFile.Write(_dir.Combine("keyed.json"), tokens.TokenUri);
        GoogleCredential credential = (await CredentialFactory.FromFileAsync<ServiceAccountCredential>(keyFile, CancellationToken.None)).ToGoogleCredential();
        var services = new ServiceCollection();
        services.AddKeyedSingleton(GcsInputStateStore.CredentialServiceKey, credential);
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Gcs",
            ["InputPipelineCheckpointing:SaveSteps"] = "1",
            ["InputPipelineCheckpointing:Gcs:Bucket"] = bucket,
            ["InputPipelineCheckpointing:Gcs:BaseUri"] = emulator.BaseUri.ToString(),
        })).AddGcsStore();
        await using ServiceProvider provider = services.BuildServiceProvider();

        var store = Assert.IsType<GcsInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        await store.WriteAsync($"di-{Guid.NewGuid():N}", Bytes.Text("x"), WriteCondition.IfAbsent);

        // The store created its client with the application's credential (scoped by the client library).
        var used = Assert.IsType<GoogleCredential>(store.Client!.Service.HttpClientInitializer);
        Assert.Equal("ipc-tests@ipc-tests.iam.gserviceaccount.com", Assert.IsType<ServiceAccountCredential>(used.UnderlyingCredential).Id);
    }

    [Fact]
    public void OptionsToString_ShowsEverySetting_ButNeverTheCredentialsFilesContent()
    {
        string keyFile = ServiceAccountKeyFile.Write(_dir.Combine("sa.json"), new Uri("http://127.0.0.1:1/token"));
        var options = new GcsStoreOptions { Bucket = "ipc-b", Prefix = "p", CredentialsFile = keyFile, ProjectId = "proj" };

        string text = options.ToString();

        Assert.Contains("Bucket = ipc-b", text, StringComparison.Ordinal);
        Assert.Contains($"CredentialsFile = {keyFile}", text, StringComparison.Ordinal);
        Assert.Contains("ProjectId = proj", text, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ipc-tests@", text, StringComparison.Ordinal);
        Assert.Contains("(application default credentials)", new GcsStoreOptions().ToString(), StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static IHost BuildHost(Dictionary<string, string?> values)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddGcsStore();
        return builder.Build();
    }
}
