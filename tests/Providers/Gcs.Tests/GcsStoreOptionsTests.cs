using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>The options' defaults, normalisation and validation, without an emulator.</summary>
[Trait("Provider", "Gcs")]
public sealed class GcsStoreOptionsTests
{
    [Fact]
    public void Defaults_AreTheDocumentedConstants()
    {
        var options = new GcsStoreOptions();

        Assert.Null(options.Bucket);
        Assert.Null(options.Prefix);
        Assert.Equal(new Uri("https://storage.googleapis.com/"), options.BaseUri);
        Assert.Null(options.CredentialsFile);
        Assert.Null(options.Anonymous);
        Assert.Null(options.ProjectId);
        Assert.False(options.CreateBucketIfMissing);
        Assert.Equal(8 * 1024 * 1024, options.ResumableThreshold);
        Assert.Equal(8 * 1024 * 1024, options.ChunkSize);
        Assert.Equal(5, options.MaxRetryAttempts);
        Assert.Equal(TimeSpan.FromSeconds(1), options.RetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(32), options.MaxRetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(100), options.AttemptTimeout);
        Assert.Equal("InputPipelineCheckpointing:Gcs", GcsStoreOptions.SectionPath);
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData("/", "")]
    [InlineData("a", "a/")]
    [InlineData("/a/b/", "a/b/")]
    [InlineData(" jobs/run-7 ", "jobs/run-7/")]
    public void Prefix_IsNormalised(string? prefix, string expected)
    {
        using var store = new GcsInputStateStore(new GcsStoreOptions { Bucket = "ipc-b", Prefix = prefix });

        Assert.Equal(expected, store.Prefix);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9023/", null, null, true)]
    [InlineData("https://storage.googleapis.com/", null, null, false)]
    [InlineData("http://127.0.0.1:9023/", null, false, false)]
    [InlineData("https://storage.googleapis.com/", null, true, true)]
    [InlineData("http://127.0.0.1:9023/", "key.json", null, false)]
    public void Anonymous_IsAutomaticForPlainHttpWithoutAKeyFile(string baseUri, string? credentialsFile, bool? anonymous, bool expected)
    {
        var options = new GcsStoreOptions { BaseUri = new Uri(baseUri), CredentialsFile = credentialsFile, Anonymous = anonymous };

        Assert.Equal(expected, options.IsAnonymous());
    }

    [Fact]
    public void TheConstructor_RejectsInvalidOptions_NamingTheKey()
    {
        var missing = Assert.Throws<CheckpointOptionsException>(() => new GcsInputStateStore(new GcsStoreOptions()));
        var chunk = Assert.Throws<CheckpointOptionsException>(() => new GcsInputStateStore(new GcsStoreOptions { Bucket = "ipc-b", ChunkSize = (256 * 1024) + 1 }));

        Assert.Equal("InputPipelineCheckpointing:Gcs:Bucket", missing.OptionName);
        Assert.Equal("InputPipelineCheckpointing:Gcs:Bucket: the bucket is not set.", missing.Message);
        Assert.Equal("InputPipelineCheckpointing:Gcs:ChunkSize", chunk.OptionName);
        Assert.Contains("multiple of 262144", chunk.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new GcsInputStateStore(null!));
    }

    [Fact]
    public void TheValidator_ReportsEveryFailure_EachNamingItsKey()
    {
        using var dir = new TempDirectory("gcs-options");
        var options = new GcsStoreOptions
        {
            Bucket = "UPPER",
            Prefix = "a//b",
            BaseUri = new Uri("http://127.0.0.1:1/?q=1"),
            CredentialsFile = dir.Combine("missing.json"),
            CreateBucketIfMissing = true,
            ResumableThreshold = GcsStoreOptions.MaxResumableThreshold + 1,
            ChunkSize = 3 * 256 * 1024,
            MaxRetryAttempts = 51,
            RetryDelay = TimeSpan.FromSeconds(-1),
            MaxRetryDelay = TimeSpan.FromDays(2),
            AttemptTimeout = TimeSpan.FromDays(2),
        };

        ValidateOptionsResult result = new GcsStoreOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        string[] keys = [.. result.Failures!.Select(f => f[..f.IndexOf(": ", StringComparison.Ordinal)])];
        Assert.Equal(
            new[] { "Bucket", "Prefix", "BaseUri", "CredentialsFile", "ProjectId", "ResumableThreshold", "MaxRetryAttempts", "RetryDelay", "MaxRetryDelay", "AttemptTimeout" }
                .Select(k => "InputPipelineCheckpointing:Gcs:" + k).Order(StringComparer.Ordinal),
            keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ACredentialsFile_WithAnonymous_IsRejected()
    {
        using var dir = new TempDirectory("gcs-options");
        string file = dir.Combine("key.json");
        File.WriteAllText(file, "{}");

        ValidateOptionsResult result = new GcsStoreOptionsValidator().Validate(null, new GcsStoreOptions { Bucket = "ipc-b", CredentialsFile = file, Anonymous = true });

        Assert.Equal("InputPipelineCheckpointing:Gcs:CredentialsFile: cannot be set when Anonymous is true; remove one of them.", Assert.Single(result.Failures!));
    }

    [Fact]
    public void ValidOptions_PassTheValidator()
    {
        ValidateOptionsResult result = new GcsStoreOptionsValidator().Validate(null, new GcsStoreOptions { Bucket = "ipc.b-1_x", ChunkSize = 256 * 1024, ResumableThreshold = 0, MaxRetryAttempts = 0, RetryDelay = TimeSpan.Zero, MaxRetryDelay = TimeSpan.Zero });

        Assert.True(result.Succeeded);
    }
}
