using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>The <c>InputPipelineCheckpointing:Store</c> URI shortcut in configuration.</summary>
public sealed class DependencyInjectionStoreUriTests : IDisposable
{
    private readonly TempDirectory _dir = new("di-store-uri");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AStoreUri_SelectsTheProviderAndItsLocation()
    {
        string path = _dir.Combine("from-uri");
        using IHost host = Build(("InputPipelineCheckpointing:Store", new Uri(path).AbsoluteUri), ("InputPipelineCheckpointing:SaveSteps", "5"));

        await host.StartAsync();

        var store = Assert.IsType<LocalInputStateStore>(host.Services.GetRequiredService<IInputStateStore>());
        Assert.Equal(Path.GetFullPath(path), store.RootPath);
        Assert.Equal("Local", host.Services.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>().Value.Provider);
        await host.StopAsync();
    }

    [Fact]
    public async Task AnS3StoreUri_SelectsS3_AndNamesItsMissingRegistrationOnStart()
    {
        using IHost host = Build(("InputPipelineCheckpointing:Store", "s3://bucket/run-1"), ("InputPipelineCheckpointing:SaveSteps", "5"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("\"S3\" is not a registered provider", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://host/x", "InputPipelineCheckpointing:Store:")]
    [InlineData("s3://bucket/a/../b", "InputPipelineCheckpointing:Store:")]
    public async Task AnInvalidStoreUri_FailsOnStartNamingTheKey(string uri, string named)
    {
        using IHost host = Build(("InputPipelineCheckpointing:Store", uri), ("InputPipelineCheckpointing:SaveSteps", "5"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStoreUriNamingAnotherProviderThanAnExplicitProvider_FailsOnStart()
    {
        using IHost host = Build(("InputPipelineCheckpointing:Store", "gs://bucket"), ("InputPipelineCheckpointing:Provider", "Local"), ("InputPipelineCheckpointing:SaveSteps", "5"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("InputPipelineCheckpointing:Store:", error.Message, StringComparison.Ordinal);
        Assert.Contains("Gcs", error.Message, StringComparison.Ordinal);
    }

    private static IHost Build(params (string Key, string Value)[] settings)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration);
        return builder.Build();
    }
}
