using Amazon.Runtime;
using Amazon.S3;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.S3.Tests;

/// <summary>AddS3Store(): binding, selection by Provider, validation only when selected, keyed client reuse.</summary>
[Trait("Provider", "S3")]
[Collection(MotoGroup.Name)]
public sealed class DependencyInjectionTests(MotoFixture moto) : IDisposable
{
    private readonly TempDirectory _dir = new("s3-di");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Configuration_BindsEveryS3Key()
    {
        IConfiguration configuration = Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "S3",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:S3:Bucket"] = "ckpt-bucket",
            ["InputPipelineCheckpointing:S3:Prefix"] = "/jobs/resnet",
            ["InputPipelineCheckpointing:S3:Region"] = "eu-west-1",
            ["InputPipelineCheckpointing:S3:ServiceUrl"] = "http://127.0.0.1:9000",
            ["InputPipelineCheckpointing:S3:ForcePathStyle"] = "true",
            ["InputPipelineCheckpointing:S3:CreateBucketIfMissing"] = "true",
            ["InputPipelineCheckpointing:S3:Profile"] = "training",
            ["InputPipelineCheckpointing:S3:ServerSideEncryption"] = "aws:kms",
            ["InputPipelineCheckpointing:S3:KmsKeyId"] = "alias/checkpoints",
            ["InputPipelineCheckpointing:S3:MultipartThreshold"] = "8388608",
            ["InputPipelineCheckpointing:S3:PartSize"] = "6291456",
            ["InputPipelineCheckpointing:S3:MaxErrorRetry"] = "7",
            ["InputPipelineCheckpointing:S3:RetryMode"] = "Adaptive",
            ["InputPipelineCheckpointing:S3:Timeout"] = "00:00:30",
            ["InputPipelineCheckpointing:S3:ConnectTimeout"] = "00:00:03",
            ["InputPipelineCheckpointing:S3:RequestChecksumCalculation"] = "WHEN_REQUIRED",
            ["InputPipelineCheckpointing:S3:ResponseChecksumValidation"] = "WHEN_REQUIRED",
        });
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(configuration).AddS3Store();
        await using ServiceProvider provider = services.BuildServiceProvider();

        S3StoreOptions options = provider.GetRequiredService<IOptions<S3StoreOptions>>().Value;

        Assert.Equal("ckpt-bucket", options.Bucket);
        Assert.Equal("jobs/resnet/", options.NormalizedPrefix);
        Assert.Equal("eu-west-1", options.Region);
        Assert.Equal(new Uri("http://127.0.0.1:9000"), options.ServiceUrl);
        Assert.True(options.ForcePathStyle);
        Assert.True(options.CreateBucketIfMissing);
        Assert.Equal("training", options.Profile);
        Assert.Equal("aws:kms", options.ServerSideEncryption);
        Assert.Equal("alias/checkpoints", options.KmsKeyId);
        Assert.Equal(8 * 1024 * 1024, options.MultipartThreshold);
        Assert.Equal(6 * 1024 * 1024, options.PartSize);
        Assert.Equal(7, options.MaxErrorRetry);
        Assert.Equal(RequestRetryMode.Adaptive, options.RetryMode);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.ConnectTimeout);
        Assert.Equal(RequestChecksumCalculation.WHEN_REQUIRED, options.RequestChecksumCalculation);
        Assert.Equal(ResponseChecksumValidation.WHEN_REQUIRED, options.ResponseChecksumValidation);
    }

    [Fact]
    public async Task ProviderS3_ResolvesAnS3StoreWithItsOwnClientConfiguredFromTheOptions()
    {
        IConfiguration configuration = Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "s3",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:S3:Bucket"] = "ckpt-bucket",
            ["InputPipelineCheckpointing:S3:Prefix"] = "jobs",
            ["InputPipelineCheckpointing:S3:Region"] = "eu-west-1",
            ["InputPipelineCheckpointing:S3:ServiceUrl"] = "http://127.0.0.1:9000",
            ["InputPipelineCheckpointing:S3:ForcePathStyle"] = "true",
            ["InputPipelineCheckpointing:S3:MaxErrorRetry"] = "3",
        });
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(configuration).AddS3Store();
        await using ServiceProvider provider = services.BuildServiceProvider();

        S3InputStateStore store = Assert.IsType<S3InputStateStore>(provider.GetRequiredService<IInputStateStore>());

        Assert.Equal("S3", store.ProviderName);
        Assert.Equal("ckpt-bucket", store.BucketName);
        Assert.Equal("jobs/", store.Prefix);
        AmazonS3Config config = Assert.IsType<AmazonS3Config>(store.Client.Config);
        Assert.Equal("http://127.0.0.1:9000/", config.ServiceURL);
        Assert.Equal("eu-west-1", config.AuthenticationRegion);
        Assert.True(config.ForcePathStyle);
        Assert.Equal(3, config.MaxErrorRetry);
        Assert.Same(store, provider.GetRequiredService<IInputStateStore>());
    }

    [Fact]
    public async Task AKeyedClient_IsReused_AndTheHookSavesThroughItToMoto()
    {
        string bucket = await moto.BucketAsync("di");
        string prefix = $"di-{Guid.NewGuid():N}";
        using var client = new AmazonS3Client(MotoFixture.Credentials, S3InputStateStore.CreateClientConfig(moto.Options(bucket)));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Provider"] = "S3",
            ["InputPipelineCheckpointing:SaveSteps"] = "5",
            ["InputPipelineCheckpointing:SaveInBackground"] = "false",
            ["InputPipelineCheckpointing:S3:Bucket"] = bucket,
            ["InputPipelineCheckpointing:S3:Prefix"] = prefix,
        });
        builder.Services.AddKeyedSingleton<IAmazonS3>(S3InputStateStore.ClientServiceKey, client);
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddS3Store();
        using IHost host = builder.Build();
        await host.StartAsync();

        S3InputStateStore store = Assert.IsType<S3InputStateStore>(host.Services.GetRequiredService<IInputStateStore>());
        CheckpointInputPipelineHook hook = host.Services.GetRequiredService<CheckpointInputPipelineHook>();
        var iterator = new CounterIterator();
        var session = new TrainingSession();
        session.Iterators.Add("iterator", iterator);
        await new MonitoredTrainingSession(session, [hook]).RunAsync((_, _) => { iterator.Position++; return ValueTask.FromResult(true); }, lastStep: 12);
        IReadOnlyList<CheckpointReference> retained = await hook.Manager.ListCheckpointsAsync();
        await hook.DisposeAsync();
        await host.StopAsync();

        Assert.Same(client, store.Client);
        Assert.Equal([12L, 10, 5, 0], retained.Select(c => c.Step));
        var objects = await client.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = bucket, Prefix = prefix + "/checkpoint_input" });
        Assert.Single(objects.S3Objects);
    }

    [Fact]
    public async Task HostStart_WithProviderS3AndNoBucket_FailsNamingTheKey()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "S3",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:S3:Region"] = "us-east-1",
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:S3:Bucket: the bucket is not set.", ex.Failures);
    }

    [Theory]
    [InlineData("PartSize", "1048576")]
    [InlineData("MultipartThreshold", "1")]
    [InlineData("MaxErrorRetry", "99")]
    [InlineData("Bucket", "my/bucket")]
    [InlineData("Prefix", "a//b")]
    [InlineData("Region", "EU WEST")]
    [InlineData("ServiceUrl", "ftp://127.0.0.1/")]
    [InlineData("ServerSideEncryption", "rot13")]
    [InlineData("KmsKeyId", "alias/no-kms-requested")]
    [InlineData("Timeout", "00:00:00")]
    [InlineData("ConnectTimeout", "-00:00:01")]
    public async Task HostStart_WithAnInvalidS3Option_FailsNamingTheKey(string key, string value)
    {
        var settings = new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Provider"] = "S3",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:S3:Bucket"] = "ckpt-bucket",
        };
        settings["InputPipelineCheckpointing:S3:" + key] = value;
        using IHost host = BuildHost(settings);

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        string failure = Assert.Single(ex.Failures);
        Assert.StartsWith($"InputPipelineCheckpointing:S3:{key}: ", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostStart_WithAnotherProviderSelected_DoesNotValidateTheS3Options()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Local",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("ckpt"),
            ["InputPipelineCheckpointing:S3:PartSize"] = "1",
        });

        await host.StartAsync();

        Assert.IsType<LocalInputStateStore>(host.Services.GetRequiredService<IInputStateStore>());
        await host.StopAsync();
    }

    [Fact]
    public async Task AddS3Store_Twice_RegistersTheProviderOnce_BindsOnce_AndAppliesEveryConfigureDelegate()
    {
        IConfiguration configuration = Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "S3",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            ["InputPipelineCheckpointing:S3:Bucket"] = "from-configuration",
        });
        var services = new ServiceCollection();
        IInputPipelineCheckpointingBuilder builder = services.AddInputPipelineCheckpointing(configuration);
        builder.AddS3Store(o => o.Prefix = "first").AddS3Store(o => o.CreateBucketIfMissing = true);
        await using ServiceProvider provider = services.BuildServiceProvider();

        S3StoreOptions options = provider.GetRequiredService<IOptions<S3StoreOptions>>().Value;

        Assert.Single(provider.GetServices<InputStateStoreRegistration>(), r => r.ProviderName == "S3");
        Assert.Single(provider.GetServices<IValidateOptions<S3StoreOptions>>());
        Assert.Equal(("from-configuration", "first/", true), (options.Bucket, options.NormalizedPrefix, options.CreateBucketIfMissing));
    }

    [Fact]
    public void Options_ToString_RedactsTheKmsKeyAndUrlCredentials()
    {
        var options = new S3StoreOptions
        {
            Bucket = "ckpt-bucket",
            Prefix = "jobs",
            ServiceUrl = new Uri("https://user:secret-password@storage.example.invalid:9000/?token=secret-token"),
            ServerSideEncryption = "aws:kms",
            KmsKeyId = "arn:aws:kms:eu-west-1:123456789012:key/secret-key-id",
        };

        string text = options.ToString();

        Assert.Contains("ckpt-bucket", text, StringComparison.Ordinal);
        Assert.Contains("jobs/", text, StringComparison.Ordinal);
        Assert.Contains("storage.example.invalid:9000", text, StringComparison.Ordinal);
        Assert.Contains("KmsKeyId = ***", text, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("123456789012", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheStoreConstructor_ValidatesToo()
    {
        var ex = Assert.Throws<CheckpointOptionsException>(() => new S3InputStateStore(new S3StoreOptions { Bucket = "ckpt-bucket", PartSize = 10 }, MotoFixture.Credentials));

        Assert.Equal("InputPipelineCheckpointing:S3:PartSize", ex.OptionName);
        Assert.Throws<CheckpointOptionsException>(() => new S3InputStateStore(new S3StoreOptions(), MotoFixture.Credentials));
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static IHost BuildHost(Dictionary<string, string?> values)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddS3Store();
        return builder.Build();
    }
}
