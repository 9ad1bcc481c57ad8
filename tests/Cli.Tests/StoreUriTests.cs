using InputPipeline.Checkpointing.AzureBlob;
using InputPipeline.Checkpointing.Gcs;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.S3;
using Microsoft.Extensions.Configuration;

namespace InputPipeline.Checkpointing.Cli.Tests;

public sealed class StoreUriTests
{
    [Theory]
    [InlineData("checkpoints/run-1", StoreUriKind.Local, null, null, "", "checkpoints/run-1")]
    [InlineData("/mnt/ckpt", StoreUriKind.Local, null, null, "", "/mnt/ckpt")]
    [InlineData("C:\\ckpt", StoreUriKind.Local, null, null, "", "C:\\ckpt")]
    [InlineData("file:///mnt/ckpt%20a", StoreUriKind.Local, null, null, "", "/mnt/ckpt a")]
    [InlineData("file://localhost/mnt/ckpt", StoreUriKind.Local, null, null, "", "/mnt/ckpt")]
    [InlineData("s3://ml-bucket", StoreUriKind.S3, null, "ml-bucket", "", "s3://ml-bucket")]
    [InlineData("S3://ml-bucket/jobs/run-7/", StoreUriKind.S3, null, "ml-bucket", "jobs/run-7", "s3://ml-bucket/jobs/run-7")]
    [InlineData("gs://ml-bucket/run-7", StoreUriKind.Gcs, null, "ml-bucket", "run-7", "gs://ml-bucket/run-7")]
    [InlineData("az://acct01/box", StoreUriKind.AzureBlob, "acct01", "box", "", "az://acct01/box")]
    [InlineData("az://acct01/box/a/b", StoreUriKind.AzureBlob, "acct01", "box", "a/b", "az://acct01/box/a/b")]
    public void Parses_every_form(string text, StoreUriKind kind, string? account, string? bucket, string prefix, string canonical)
    {
        StoreUri uri = StoreUri.Parse(text);
        Assert.Equal(kind, uri.Kind);
        Assert.Equal(account, uri.Account);
        Assert.Equal(bucket, uri.Bucket);
        Assert.Equal(prefix, uri.Prefix);
        Assert.Equal(canonical, uri.ToString());
        if (kind == StoreUriKind.Local && !OperatingSystem.IsWindows() && text.StartsWith("file:", StringComparison.Ordinal))
        {
            Assert.Equal(canonical, uri.LocalPath);
        }
    }

    [Theory]
    [InlineData("", "the store is empty")]
    [InlineData("http://example.com/x", "unknown URI scheme \"http\"")]
    [InlineData("abfss://c@acct.dfs.core.windows.net/x", "unknown URI scheme \"abfss\"")]
    [InlineData("s3:bucket/x", "write s3://")]
    [InlineData("s3://", "names no bucket")]
    [InlineData("gs:///prefix", "names no bucket")]
    [InlineData("s3://bucket/a//b", "empty segment")]
    [InlineData("gs://bucket/a/../b", "'.' or '..' segment")]
    [InlineData("az://acct01", "names no container")]
    [InlineData("az://Not_An_Account/box", "is not a storage account name")]
    [InlineData("file://server/share/x", "only local paths are supported")]
    public void Rejects_bad_forms_with_a_reason(string text, string reason)
    {
        Assert.False(StoreUri.TryParse(text, out _, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        FormatException ex = Assert.Throws<FormatException>(() => StoreUri.Parse(text));
        Assert.Equal(error, ex.Message);
    }

    [Fact]
    public void Configuration_values_bind_to_each_providers_options()
    {
        S3StoreOptions s3 = Bind<S3StoreOptions>("s3://ml-bucket/jobs/run-7", "S3", out string provider);
        Assert.Equal(("S3", "ml-bucket", "jobs/run-7/"), (provider, s3.Bucket, s3.NormalizedPrefix));

        GcsStoreOptions gcs = Bind<GcsStoreOptions>("gs://ml-bucket/run-7", "Gcs", out provider);
        Assert.Equal(("Gcs", "ml-bucket", "run-7"), (provider, gcs.Bucket, gcs.Prefix));

        AzureBlobStoreOptions azure = Bind<AzureBlobStoreOptions>("az://acct01/box/run", "AzureBlob", out provider);
        Assert.Equal(("AzureBlob", "box", "run", new Uri("https://acct01.blob.core.windows.net/")), (provider, azure.Container, azure.Prefix, azure.ServiceUri));

        LocalStoreOptions local = Bind<LocalStoreOptions>("/mnt/ckpt/run", "Local", out provider);
        Assert.Equal(("Local", "/mnt/ckpt/run"), (provider, local.Path));

        Assert.DoesNotContain(StoreUri.Parse("az://acct01/box").ToConfigurationValues(includeAzureServiceUri: false), pair => pair.Key.EndsWith("ServiceUri", StringComparison.Ordinal));
        Assert.Equal("Provider", StoreUri.Parse("gs://b1x").ToConfigurationValues(sectionPath: string.Empty)[0].Key);
    }

    private static T Bind<T>(string uri, string section, out string provider)
        where T : new()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(StoreUri.Parse(uri).ToConfigurationValues()).Build();
        provider = configuration["InputPipelineCheckpointing:Provider"]!;
        var options = new T();
        configuration.GetSection("InputPipelineCheckpointing:" + section).Bind(options);
        return options;
    }

    [Fact]
    public void Equality_is_by_canonical_form()
    {
        Assert.Equal(StoreUri.Parse("s3://b/p/"), StoreUri.Parse("S3://b/p"));
        Assert.NotEqual(StoreUri.Parse("s3://b/p"), StoreUri.Parse("gs://b/p"));
    }
}
