using System.Net.Http.Headers;
using Google;
using Google.Cloud.Storage.V1;

namespace GcsEmulator.Tests;

/// <summary>
/// The emulator as Google.Cloud.Storage.V1 sees it, with the client's default settings (hash validation included):
/// where the emulator and Cloud Storage disagree, these tests fail, and Cloud Storage's behaviour is the right one.
/// </summary>
public sealed class OfficialClientTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly StorageClient _client = new StorageClientBuilder
    {
        BaseUri = fixture.Server.BaseUri + "storage/v1/",
        UnauthenticatedAccess = true,
    }.Build();

    [Fact]
    public async Task A_ranged_download_with_the_default_hash_validation_succeeds()
    {
        var bucket = await Gcs.CreateBucketAsync(fixture.Http);
        var content = Gcs.RandomBytes(1000, seed: 30);
        await Gcs.PutObjectAsync(fixture.Http, bucket, "ranged", content);

        using var whole = new MemoryStream();
        await _client.DownloadObjectAsync(bucket, "ranged", whole);
        using var tail = new MemoryStream();
        await _client.DownloadObjectAsync(bucket, "ranged", tail, new DownloadObjectOptions { Range = new RangeHeaderValue(100, null) });

        Assert.Equal(content, whole.ToArray());
        Assert.Equal(content[100..], tail.ToArray());
    }

    [Fact]
    public async Task Uploads_honour_generation_preconditions_as_Cloud_Storage_does()
    {
        var bucket = await Gcs.CreateBucketAsync(fixture.Http);
        var created = await _client.UploadObjectAsync(bucket, "o", null, new MemoryStream([1, 2, 3]), new UploadObjectOptions { IfGenerationMatch = 0 });

        var conflict = await Assert.ThrowsAsync<GoogleApiException>(() => _client.UploadObjectAsync(bucket, "o", null, new MemoryStream([4]), new UploadObjectOptions { IfGenerationMatch = 0 }));
        var replaced = await _client.UploadObjectAsync(bucket, "o", null, new MemoryStream([5]), new UploadObjectOptions { IfGenerationMatch = created.Generation });

        Assert.Equal(System.Net.HttpStatusCode.PreconditionFailed, conflict.HttpStatusCode);
        Assert.Equal("conditionNotMet", conflict.Error.Errors[0].Reason);
        Assert.NotEqual(created.Generation, replaced.Generation);
        Assert.Equal([5], fixture.Server.TryGetObjectContent(bucket, "o"));
    }
}
