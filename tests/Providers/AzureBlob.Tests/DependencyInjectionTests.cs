using Azure.Core;
using Azure.Storage.Blobs;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>Registration with <c>AddAzureBlobStore()</c> that needs no emulator: binding, validation on start, redaction.</summary>
[Trait("Provider", "AzureBlob")]
public sealed class DependencyInjectionTests : IDisposable
{
    private const string Section = "InputPipelineCheckpointing:AzureBlob";
    private static readonly string DevConnectionString = AzuriteInstance.ConnectionStringFor(10000);
    private readonly TempDirectory _dir = new("azureblob-di");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Configuration_BindsEveryKey()
    {
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            ["InputPipelineCheckpointing:SaveSteps"] = "100",
            [$"{Section}:ServiceUri"] = "https://account.blob.core.windows.net/",
            [$"{Section}:Container"] = "checkpoints",
            [$"{Section}:Prefix"] = "jobs/run-1",
            [$"{Section}:CreateContainerIfMissing"] = "true",
            [$"{Section}:InitialTransferSize"] = "1048576",
            [$"{Section}:MaximumTransferSize"] = "2097152",
            [$"{Section}:MaximumConcurrency"] = "3",
            [$"{Section}:MaxRetries"] = "7",
            [$"{Section}:RetryDelay"] = "00:00:02",
            [$"{Section}:MaxRetryDelay"] = "00:00:30",
            [$"{Section}:NetworkTimeout"] = "00:01:00",
            [$"{Section}:ListPageSize"] = "1000",
        })).AddAzureBlobStore();
        await using ServiceProvider provider = services.BuildServiceProvider();

        AzureBlobStoreOptions options = provider.GetRequiredService<IOptions<AzureBlobStoreOptions>>().Value;

        Assert.Null(options.ConnectionString);
        Assert.Equal(new Uri("https://account.blob.core.windows.net/"), options.ServiceUri);
        Assert.Equal("checkpoints", options.Container);
        Assert.Equal("jobs/run-1", options.Prefix);
        Assert.True(options.CreateContainerIfMissing);
        Assert.Equal(1048576, options.InitialTransferSize);
        Assert.Equal(2097152, options.MaximumTransferSize);
        Assert.Equal(3, options.MaximumConcurrency);
        Assert.Equal(7, options.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(2), options.RetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(30), options.MaxRetryDelay);
        Assert.Equal(TimeSpan.FromMinutes(1), options.NetworkTimeout);
        Assert.Equal(1000, options.ListPageSize);
        AzureBlobInputStateStore store = Assert.IsType<AzureBlobInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        Assert.Equal(("checkpoints", "jobs/run-1/"), (store.ContainerName, store.Prefix));
    }

    [Fact]
    public void Defaults_AreTheDocumentedConstants()
    {
        var options = new AzureBlobStoreOptions();

        Assert.Null(options.ConnectionString);
        Assert.Null(options.ServiceUri);
        Assert.Null(options.Container);
        Assert.Equal(AzureBlobStoreOptions.DefaultPrefix, options.Prefix);
        Assert.False(options.CreateContainerIfMissing);
        Assert.Equal(8L * 1024 * 1024, options.InitialTransferSize);
        Assert.Equal(8L * 1024 * 1024, options.MaximumTransferSize);
        Assert.Equal(4, options.MaximumConcurrency);
        Assert.Equal(3, options.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(0.8), options.RetryDelay);
        Assert.Equal(TimeSpan.FromMinutes(1), options.MaxRetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(100), options.NetworkTimeout);
        Assert.Equal(5000, options.ListPageSize);
    }

    [Fact]
    public async Task HostStart_WithoutAContainer_FailsNamingTheKey()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            [$"{Section}:ConnectionString"] = DevConnectionString,
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"{Section}:Container: the container is not set.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AzuriteInstance.AccountKey, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HostStart_WithNeitherOrBothOfConnectionStringAndServiceUri_FailsNamingBothKeys(bool both)
    {
        var settings = new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Provider"] = "azureblob",
            [$"{Section}:Container"] = "checkpoints",
        };
        if (both)
        {
            settings[$"{Section}:ConnectionString"] = DevConnectionString;
            settings[$"{Section}:ServiceUri"] = "https://account.blob.core.windows.net/";
        }

        using IHost host = BuildHost(settings);

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"{Section}:ConnectionString", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:ServiceUri", ex.Message, StringComparison.Ordinal);
        Assert.Contains(both ? "both are set" : "neither is set", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AzuriteInstance.AccountKey, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Container", "Bad_Name", "Container")]
    [InlineData("Container", "ab", "Container")]
    [InlineData("Container", "a--b", "Container")]
    [InlineData("InitialTransferSize", "1024", "InitialTransferSize")]
    [InlineData("MaximumTransferSize", "5000000000", "MaximumTransferSize")]
    [InlineData("MaximumConcurrency", "0", "MaximumConcurrency")]
    [InlineData("MaxRetries", "-1", "MaxRetries")]
    [InlineData("MaxRetries", "21", "MaxRetries")]
    [InlineData("RetryDelay", "00:00:00", "RetryDelay")]
    [InlineData("MaxRetryDelay", "00:00:00.500", "MaxRetryDelay")]
    [InlineData("NetworkTimeout", "00:00:00.010", "NetworkTimeout")]
    [InlineData("ListPageSize", "0", "ListPageSize")]
    [InlineData("ListPageSize", "5001", "ListPageSize")]
    [InlineData("Prefix", "a//b", "Prefix")]
    [InlineData("Prefix", "a/../b", "Prefix")]
    [InlineData("Prefix", "a\\b", "Prefix")]
    [InlineData("ConnectionString", "not a connection string", "ConnectionString")]
    public async Task HostStart_WithAnInvalidOption_FailsNamingTheKey(string key, string value, string expectedKey)
    {
        var settings = new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            [$"{Section}:ConnectionString"] = DevConnectionString,
            [$"{Section}:Container"] = "checkpoints",
            [$"{Section}:RetryDelay"] = "00:00:01",
        };
        settings[$"{Section}:{key}"] = value;
        using IHost host = BuildHost(settings);

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"{Section}:{expectedKey}: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AzuriteInstance.AccountKey, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://account.blob.core.windows.net/", "https")]
    [InlineData("https://account.blob.core.windows.net/other", "\"other\"")]
    [InlineData("https://account.blob.core.windows.net/checkpoints/a-blob", "not of a blob")]
    [InlineData("ftp://account.blob.core.windows.net/", "absolute http or https")]
    [InlineData("relative/path", "absolute http or https")]
    public async Task HostStart_WithAnUnusableServiceUri_FailsNamingTheKey(string uri, string expected)
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            [$"{Section}:ServiceUri"] = uri,
            [$"{Section}:Container"] = "checkpoints",
        });

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"{Section}:ServiceUri: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://account.blob.core.windows.net/")]
    [InlineData("https://account.blob.core.windows.net/checkpoints")]
    [InlineData("http://127.0.0.1:10000/devstoreaccount1/checkpoints?sv=2024-08-04&sr=c&sp=racwdl&se=2030-01-01T00%3A00%3A00Z&sig=abc%3D")]
    public async Task HostStart_WithAUsableServiceUri_Succeeds(string uri)
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            [$"{Section}:ServiceUri"] = uri,
            [$"{Section}:Container"] = "checkpoints",
        });

        await host.StartAsync();
        AzureBlobInputStateStore store = Assert.IsType<AzureBlobInputStateStore>(host.Services.GetRequiredService<IInputStateStore>());
        await host.StopAsync();

        Assert.Equal("checkpoints", store.ContainerName);
    }

    [Fact]
    public async Task HostStart_WithAnotherProviderSelected_DoesNotValidateTheAzureBlobOptions()
    {
        using IHost host = BuildHost(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "Local",
            ["InputPipelineCheckpointing:Local:Path"] = _dir.Combine("local"),
            [$"{Section}:Container"] = "Not A Valid Name",
            [$"{Section}:MaxRetries"] = "-5",
        });

        await host.StartAsync();
        IInputStateStore store = host.Services.GetRequiredService<IInputStateStore>();
        await host.StopAsync();

        Assert.IsType<LocalInputStateStore>(store);
    }

    [Fact]
    public async Task AddAzureBlobStore_Twice_IsSafe_AndConfigureRunsAfterBinding()
    {
        var services = new ServiceCollection();
        IInputPipelineCheckpointingBuilder builder = services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            ["InputPipelineCheckpointing:SaveSteps"] = "1",
            [$"{Section}:ConnectionString"] = DevConnectionString,
            [$"{Section}:Container"] = "from-config",
            [$"{Section}:Prefix"] = "p",
        }));
        builder.AddAzureBlobStore().AddAzureBlobStore(o => o.Container = "from-code");
        await using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Single(provider.GetServices<IValidateOptions<AzureBlobStoreOptions>>());
        Assert.Single(provider.GetServices<InputStateStoreRegistration>(), r => r.ProviderName == "AzureBlob");
        AzureBlobInputStateStore store = Assert.IsType<AzureBlobInputStateStore>(provider.GetRequiredService<IInputStateStore>());
        Assert.Equal(("from-code", "p/"), (store.ContainerName, store.Prefix));
    }

    [Fact]
    public async Task ActionOverload_ConfiguresTheStoreWithoutConfiguration()
    {
        var services = new ServiceCollection();
        services.AddInputPipelineCheckpointing(o =>
        {
            o.Provider = "AzureBlob";
            o.SaveSteps = 1;
        }).AddAzureBlobStore(o =>
        {
            o.ConnectionString = DevConnectionString;
            o.Container = "by-code";
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Equal("by-code", Assert.IsType<AzureBlobInputStateStore>(provider.GetRequiredService<IInputStateStore>()).ContainerName);
    }

    [Fact]
    public async Task AKeyedBlobServiceClient_ReplacesTheConnectionSettings()
    {
        var client = new BlobServiceClient(DevConnectionString);
        var services = new ServiceCollection();
        services.AddKeyedSingleton(AzureBlobStoreOptions.ClientServiceKey, client);
        services.AddInputPipelineCheckpointing(Configuration(new()
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            ["InputPipelineCheckpointing:SaveSteps"] = "1",
            [$"{Section}:Container"] = "keyed",
        })).AddAzureBlobStore();
        await using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Equal("keyed", Assert.IsType<AzureBlobInputStateStore>(provider.GetRequiredService<IInputStateStore>()).ContainerName);
    }

    [Fact]
    public void AddAzureBlobStore_RejectsANullBuilder()
    {
        Assert.Throws<ArgumentNullException>(() => ((IInputPipelineCheckpointingBuilder)null!).AddAzureBlobStore());
    }

    [Fact]
    public void OptionsToString_RedactsTheAccountKeyAndSasSignatures()
    {
        var withKey = new AzureBlobStoreOptions
        {
            ConnectionString = DevConnectionString + "SharedAccessSignature=sv=2024&sig=SECRETSIG",
            Container = "c",
        };
        var withSas = new AzureBlobStoreOptions
        {
            ServiceUri = new Uri("https://account.blob.core.windows.net/c?sv=2024-08-04&sp=rl&sig=SECRET%2Bsig%3D"),
            Container = "c",
        };

        string key = withKey.ToString();
        string sas = withSas.ToString();

        Assert.DoesNotContain(AzuriteInstance.AccountKey, key, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETSIG", key, StringComparison.Ordinal);
        Assert.Contains("AccountName=devstoreaccount1", key, StringComparison.Ordinal);
        Assert.Contains("AccountKey=***", key, StringComparison.Ordinal);
        Assert.Contains("BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1", key, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", sas, StringComparison.Ordinal);
        Assert.Contains("sv=2024-08-04&sp=rl&sig=***", sas, StringComparison.Ordinal);
        Assert.Contains("Container = c", sas, StringComparison.Ordinal);
        string endpointSas = new AzureBlobStoreOptions { ConnectionString = "BlobEndpoint=https://a.blob.core.windows.net/?sv=1&sig=HIDDEN;AccountName=a" }.ToString();
        Assert.Contains("BlobEndpoint=https://a.blob.core.windows.net/?sv=1&sig=***;AccountName=a;", endpointSas, StringComparison.Ordinal);
    }

    [Fact]
    public void TheStoreConstructor_ValidatesTheOptions_NamingTheKey()
    {
        var ex = Assert.Throws<CheckpointOptionsException>(() => new AzureBlobInputStateStore(new AzureBlobStoreOptions { ConnectionString = DevConnectionString }));

        Assert.Equal($"{Section}:Container", ex.OptionName);
        Assert.Throws<ArgumentNullException>(() => new AzureBlobInputStateStore((AzureBlobStoreOptions)null!));
        Assert.Throws<ArgumentNullException>(() => new AzureBlobInputStateStore((BlobServiceClient)null!, new AzureBlobStoreOptions { Container = "c" }));
        var other = Assert.Throws<CheckpointOptionsException>(() => new AzureBlobInputStateStore(
            new BlobServiceClient(DevConnectionString).GetBlobContainerClient("one"),
            new AzureBlobStoreOptions { Container = "two" }));
        Assert.Contains("\"one\"", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheStoreToString_NamesTheContainerAndNoSecret()
    {
        var store = new AzureBlobInputStateStore(new AzureBlobStoreOptions
        {
            ServiceUri = new Uri("https://account.blob.core.windows.net/?sv=2024-08-04&sig=SECRET"),
            Container = "checkpoints",
            Prefix = "jobs",
        });

        Assert.Equal("AzureBlob store, container \"checkpoints\" at https://account.blob.core.windows.net/checkpoints, prefix \"jobs/\"", store.ToString());
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static IHost BuildHost(Dictionary<string, string?> values)
    {
        values.TryAdd("InputPipelineCheckpointing:SaveSteps", "5");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddAzureBlobStore();
        return builder.Build();
    }
}

/// <summary>Registration with <c>AddAzureBlobStore()</c> end to end on Azurite.</summary>
[Collection(AzuriteDefinition.Name)]
[Trait("Provider", "AzureBlob")]
public sealed class DependencyInjectionOnAzuriteTests(AzuriteFixture azurite)
{
    private const string Section = "InputPipelineCheckpointing:AzureBlob";

    [Fact]
    public async Task ProviderAzureBlob_ResolvesTheStore_AndTheHookCheckpointsIntoTheContainer()
    {
        string container = azurite.NewContainerName("di");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["InputPipelineCheckpointing:Provider"] = "AzureBlob",
            ["InputPipelineCheckpointing:SaveSteps"] = "2",
            ["InputPipelineCheckpointing:KeepMax"] = "2",
            [$"{Section}:ConnectionString"] = azurite.ConnectionString,
            [$"{Section}:Container"] = container,
            [$"{Section}:Prefix"] = "spot-training",
            [$"{Section}:CreateContainerIfMissing"] = "true",
            [$"{Section}:MaxRetries"] = "1",
        });
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddAzureBlobStore();
        using IHost host = builder.Build();
        await host.StartAsync();

        AzureBlobInputStateStore store = Assert.IsType<AzureBlobInputStateStore>(host.Services.GetRequiredService<IInputStateStore>());
        await using (CheckpointInputPipelineHook hook = host.Services.GetRequiredService<CheckpointInputPipelineHook>())
        {
            var iterator = new CounterIterator();
            var session = new TrainingSession();
            session.Iterators.Add("iterator", iterator);
            await new MonitoredTrainingSession(session, [hook]).RunAsync((_, _) => { iterator.Next(); return ValueTask.FromResult(true); }, lastStep: 7);
            Assert.Equal(0, hook.FailedSaveCount);
        }

        await host.StopAsync();
        Assert.Equal(container, store.ContainerName);
        var names = new List<string>();
        await foreach (Azure.Storage.Blobs.Models.BlobItem item in azurite.ServiceClient.GetBlobContainerClient(container).GetBlobsAsync())
        {
            names.Add(item.Name);
        }

        Assert.Contains("spot-training/checkpoint_input", names);
        Assert.All(names, n => Assert.StartsWith("spot-training/", n, StringComparison.Ordinal));
        Assert.Equal(2, names.Count(n => n.EndsWith(".manifest", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AKeyedBlobServiceClient_IsTheOneTheStoreUses()
    {
        string container = await azurite.NewContainerAsync("keyed");
        var recorder = new RecordingPolicy();
        var clientOptions = new BlobClientOptions();
        clientOptions.AddPolicy(recorder, HttpPipelinePosition.PerCall);
        var services = new ServiceCollection();
        services.AddKeyedSingleton(AzureBlobStoreOptions.ClientServiceKey, new BlobServiceClient(azurite.ConnectionString, clientOptions));
        services.AddInputPipelineCheckpointing(o =>
        {
            o.Provider = "AzureBlob";
            o.SaveSteps = 1;
        }).AddAzureBlobStore(o => o.Container = container);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        IInputStateStore store = provider.GetRequiredService<IInputStateStore>();

        await store.WriteAsync("k", new MemoryStream([1, 2, 3]), WriteCondition.IfAbsent);

        Assert.Contains(recorder.Requests, r => r.Method == "PUT" && r.Uri.AbsolutePath.EndsWith($"/{container}/k", StringComparison.Ordinal));
    }
}
