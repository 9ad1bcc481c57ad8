using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>The validator on its own: every failure names its full configuration key, and all of them are reported.</summary>
[Trait("Provider", "AzureBlob")]
public sealed class OptionsValidatorTests
{
    private const string Section = "InputPipelineCheckpointing:AzureBlob";

    [Fact]
    public void ValidOptions_PassWithEitherConnection()
    {
        var validator = new AzureBlobStoreOptionsValidator();

        Assert.True(validator.Validate(null, new AzureBlobStoreOptions { ConnectionString = "UseDevelopmentStorage=true", Container = "abc" }).Succeeded);
        Assert.True(validator.Validate(null, new AzureBlobStoreOptions { ServiceUri = new Uri("https://a.blob.core.windows.net"), Container = "abc", Prefix = "x/y/" }).Succeeded);
    }

    [Fact]
    public void EveryFailure_IsReported_WithItsFullKey()
    {
        var options = new AzureBlobStoreOptions
        {
            Container = null,
            InitialTransferSize = 1,
            MaximumConcurrency = 65,
            RetryDelay = TimeSpan.FromSeconds(10),
            MaxRetryDelay = TimeSpan.FromSeconds(1),
            Prefix = "a/./b",
        };

        ValidateOptionsResult result = new AzureBlobStoreOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, string.Join(Environment.NewLine, result.Failures));
        string[] expected =
            [
                $"{Section}:Container: the container is not set.",
                $"{Section}:InitialTransferSize: must be between 65536 and 5242880000.",
                $"{Section}:MaximumConcurrency: must be between 1 and 64.",
                $"{Section}:ConnectionString / {Section}:ServiceUri: set exactly one of them (a connection string, or an account or container URI with a SAS or for DefaultAzureCredential); neither is set.",
                $"{Section}:MaxRetryDelay: must be at least {Section}:RetryDelay (00:00:10); it is 00:00:01.",
                $"{Section}:Prefix: \"a/./b\" is not a valid prefix: it must be '/'-separated segments, none empty, '.' or '..', without backslashes or control characters.",
            ];
        Assert.Equal(expected.Length, result.Failures.Count());
        foreach ((string want, string got) in expected.Zip(result.Failures))
        {
            Assert.Equal(want, got);
        }
    }

    [Fact]
    public void APrefixTooLongForBlobNames_IsRejected()
    {
        var options = new AzureBlobStoreOptions { ConnectionString = "UseDevelopmentStorage=true", Container = "abc", Prefix = new string('p', 125) };

        ValidateOptionsResult result = new AzureBlobStoreOptionsValidator().Validate(null, options);

        Assert.Equal([$"{Section}:Prefix: must be at most 124 characters; it is 126."], result.Failures);
    }

    [Fact]
    public void WithAKeyedClient_NeitherConnectionStringNorServiceUriIsNeeded()
    {
        var services = new ServiceCollection();
        services.AddKeyedSingleton(AzureBlobStoreOptions.ClientServiceKey, new BlobServiceClient("UseDevelopmentStorage=true"));
        using ServiceProvider provider = services.BuildServiceProvider();
        var validator = new AzureBlobStoreOptionsValidator(provider.GetRequiredService<IServiceProviderIsKeyedService>());

        Assert.True(validator.Validate(null, new AzureBlobStoreOptions { Container = "abc" }).Succeeded);
        Assert.True(new AzureBlobStoreOptionsValidator().Validate(null, new AzureBlobStoreOptions { Container = "abc" }).Failed);
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("/", "")]
    [InlineData("jobs", "jobs/")]
    [InlineData("/jobs/run-1/", "jobs/run-1/")]
    [InlineData("//a/b", "a/b/")]
    public void Prefix_IsNormalised(string prefix, string expected)
    {
        var store = new AzureBlobInputStateStore(new AzureBlobStoreOptions { ConnectionString = "UseDevelopmentStorage=true", Container = "abc", Prefix = prefix });

        Assert.Equal(expected, store.Prefix);
    }
}
