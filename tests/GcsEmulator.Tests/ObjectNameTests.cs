using System.Net;

namespace GcsEmulator.Tests;

public sealed class ObjectNameTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Theory]
    [InlineData("with space.txt")]
    [InlineData("nested/dir/file.bin")]
    [InlineData("ünïcödé/日本語/😀.dat")]
    [InlineData("plus+and%percent#hash?question&amp=eq")]
    [InlineData("trailing/")]
    [InlineData("a//double//slash")]
    [InlineData("..dots../.hidden")]
    public async Task Names_round_trip_through_upload_get_list_and_delete(string name)
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(64, seed: name.Length);
        var created = await Gcs.PutObjectAsync(_http, bucket, name, content);
        Assert.Equal(name, created.GetProperty("name").GetString());

        using (var metadata = await Gcs.GetMetadataAsync(_http, bucket, name))
        {
            Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
            Assert.Equal(name, (await Gcs.JsonAsync(metadata)).GetProperty("name").GetString());
        }
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, name));

        // selfLink is usable as is.
        using (var self = await _http.GetAsync(created.GetProperty("selfLink").GetString()))
        {
            Assert.Equal(name, (await Gcs.JsonAsync(self)).GetProperty("name").GetString());
        }

        using (var list = await _http.GetAsync($"storage/v1/b/{bucket}/o?prefix={Gcs.Esc(name)}"))
        {
            var items = (await Gcs.JsonAsync(list)).GetProperty("items");
            Assert.Equal(name, Assert.Single(items.EnumerateArray()).GetProperty("name").GetString());
        }

        using (var delete = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/{Gcs.Esc(name)}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
        using var gone = await Gcs.GetMetadataAsync(_http, bucket, name);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Slash_encoded_and_unencoded_address_the_same_object()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        await Gcs.PutObjectAsync(_http, bucket, "x/y/z", [7]);
        using var response = await _http.GetAsync($"storage/v1/b/{bucket}/o/x/y/z?alt=media");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new byte[] { 7 }, await response.Content.ReadAsByteArrayAsync());

        // A name that differs only by an encoded slash is a different object.
        using var other = await _http.GetAsync($"storage/v1/b/{bucket}/o/x%252Fy?alt=media");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task Invalid_names_are_rejected()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var tooLong = await Gcs.UploadMediaAsync(_http, bucket, new string('a', 1025), [1]);
        await Gcs.AssertErrorAsync(tooLong, HttpStatusCode.BadRequest, "invalid");
        using var newline = await Gcs.UploadMediaAsync(_http, bucket, "line\nbreak", [1]);
        await Gcs.AssertErrorAsync(newline, HttpStatusCode.BadRequest, "invalid");
        using var dot = await Gcs.UploadMediaAsync(_http, bucket, "..", [1]);
        await Gcs.AssertErrorAsync(dot, HttpStatusCode.BadRequest, "invalid");
    }
}
