using System.Net;
using System.Net.Http.Headers;

namespace GcsEmulator.Tests;

public sealed class DownloadTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Metadata_is_the_default_and_media_carries_goog_headers()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(1000, seed: 10);
        var o = await Gcs.PutObjectAsync(_http, bucket, "obj", content);

        using var metadata = await Gcs.GetMetadataAsync(_http, bucket, "obj");
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
        var json = await Gcs.JsonAsync(metadata);
        Assert.Equal(o.GetProperty("generation").GetString(), json.GetProperty("generation").GetString());
        Assert.Equal(o.GetProperty("md5Hash").GetString(), json.GetProperty("md5Hash").GetString());

        using var media = await _http.GetAsync($"storage/v1/b/{bucket}/o/obj?alt=media");
        Assert.Equal(HttpStatusCode.OK, media.StatusCode);
        Assert.Equal(o.GetProperty("generation").GetString(), media.Headers.GetValues("x-goog-generation").Single());
        Assert.Equal("1", media.Headers.GetValues("x-goog-metageneration").Single());
        Assert.Equal(2, media.Headers.GetValues("x-goog-hash").Count());
        Assert.Equal($"\"{o.GetProperty("etag").GetString()}\"", media.Headers.ETag?.Tag);
        var hash = string.Join(",", media.Headers.GetValues("x-goog-hash"));
        Assert.Contains("md5=" + Gcs.Md5Base64(content), hash, StringComparison.Ordinal);
        Assert.Contains("crc32c=" + Crc32C.ToBase64(Crc32C.Compute(content)), hash, StringComparison.Ordinal);
        Assert.Equal(1000, media.Content.Headers.ContentLength);
        Assert.Equal(content, await media.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("bytes=0-9", 0, 9)]
    [InlineData("bytes=990-", 990, 999)]
    [InlineData("bytes=100-199", 100, 199)]
    [InlineData("bytes=-25", 975, 999)]
    [InlineData("bytes=500-5000", 500, 999)]
    public async Task Range_requests_return_206_with_content_range(string range, int first, int last)
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(1000, seed: 11);
        await Gcs.PutObjectAsync(_http, bucket, "ranged", content);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"storage/v1/b/{bucket}/o/ranged?alt=media");
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(new ContentRangeHeaderValue(first, last, 1000).ToString(), response.Content.Headers.ContentRange!.ToString());
        Assert.Equal(content[first..(last + 1)], await response.Content.ReadAsByteArrayAsync());
        Assert.False(response.Headers.Contains("x-goog-hash"), "Cloud Storage sends no x-goog-hash with a partial response: it would not match the bytes sent.");
        Assert.Equal("1000", response.Headers.GetValues("x-goog-stored-content-length").Single());
    }

    [Fact]
    public async Task Range_beyond_the_end_is_416()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        await Gcs.PutObjectAsync(_http, bucket, "short", new byte[10]);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"storage/v1/b/{bucket}/o/short?alt=media");
        request.Headers.Range = new RangeHeaderValue(10, null);
        using var response = await _http.SendAsync(request);
        await Gcs.AssertErrorAsync(response, HttpStatusCode.RequestedRangeNotSatisfiable, "requestedRangeNotSatisfiable");
    }

    [Fact]
    public async Task Generation_parameter_selects_the_live_generation_only()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var v1 = await Gcs.PutObjectAsync(_http, bucket, "versioned", [1]);
        var v2 = await Gcs.PutObjectAsync(_http, bucket, "versioned", [2]);

        using var current = await _http.GetAsync($"storage/v1/b/{bucket}/o/versioned?alt=media&generation={Gcs.Generation(v2)}");
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.Equal(new byte[] { 2 }, await current.Content.ReadAsByteArrayAsync());

        using var old = await _http.GetAsync($"storage/v1/b/{bucket}/o/versioned?alt=media&generation={Gcs.Generation(v1)}");
        await Gcs.AssertErrorAsync(old, HttpStatusCode.NotFound, "notFound");
    }

    [Fact]
    public async Task Read_preconditions_give_412_or_304()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var o = await Gcs.PutObjectAsync(_http, bucket, "cond", [1, 2, 3]);
        var generation = Gcs.Generation(o);

        using (var match = await Gcs.GetMetadataAsync(_http, bucket, "cond", $"ifGenerationMatch={generation}"))
        {
            Assert.Equal(HttpStatusCode.OK, match.StatusCode);
        }
        using (var mismatch = await Gcs.GetMetadataAsync(_http, bucket, "cond", $"alt=media&ifGenerationMatch={generation + 1}"))
        {
            await Gcs.AssertErrorAsync(mismatch, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        using (var metaMismatch = await Gcs.GetMetadataAsync(_http, bucket, "cond", "ifMetagenerationMatch=2"))
        {
            await Gcs.AssertErrorAsync(metaMismatch, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        using (var notModified = await Gcs.GetMetadataAsync(_http, bucket, "cond", $"alt=media&ifGenerationNotMatch={generation}"))
        {
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        }
        using (var metaNotModified = await Gcs.GetMetadataAsync(_http, bucket, "cond", "ifMetagenerationNotMatch=1"))
        {
            Assert.Equal(HttpStatusCode.NotModified, metaNotModified.StatusCode);
        }
        using (var modified = await Gcs.GetMetadataAsync(_http, bucket, "cond", $"alt=media&ifGenerationNotMatch={generation - 1}"))
        {
            Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
        }
    }

    [Fact]
    public async Task Missing_object_is_404_with_documented_error_body()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var response = await _http.GetAsync($"storage/v1/b/{bucket}/o/absent?alt=media");
        await Gcs.AssertErrorAsync(response, HttpStatusCode.NotFound, "notFound");
        var error = (await Gcs.JsonAsync(response)).GetProperty("error");
        Assert.Equal($"No such object: {bucket}/absent", error.GetProperty("message").GetString());
        Assert.Equal(["code", "message", "errors"], error.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Patch_updates_metadata_and_bumps_metageneration()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var o = await Gcs.PutObjectAsync(_http, bucket, "patched", [1]);

        using var stale = await _http.PatchAsync($"storage/v1/b/{bucket}/o/patched?ifMetagenerationMatch=7",
            Gcs.JsonBody(new { contentType = "text/plain" }));
        await Gcs.AssertErrorAsync(stale, HttpStatusCode.PreconditionFailed, "conditionNotMet");

        using var patch = await _http.PatchAsync($"storage/v1/b/{bucket}/o/patched?ifMetagenerationMatch=1",
            Gcs.JsonBody(new { contentType = "text/plain", metadata = new { a = "b" } }));
        var patched = await Gcs.JsonAsync(patch);
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal("2", patched.GetProperty("metageneration").GetString());
        Assert.Equal(o.GetProperty("generation").GetString(), patched.GetProperty("generation").GetString());
        Assert.Equal("text/plain", patched.GetProperty("contentType").GetString());
        Assert.Equal("b", patched.GetProperty("metadata").GetProperty("a").GetString());
        Assert.NotEqual(o.GetProperty("etag").GetString(), patched.GetProperty("etag").GetString());

        using var media = await _http.GetAsync($"storage/v1/b/{bucket}/o/patched?alt=media");
        Assert.Equal("2", media.Headers.GetValues("x-goog-metageneration").Single());
        Assert.Equal(new byte[] { 1 }, await media.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Concurrent_readers_and_writers_see_whole_objects()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var versions = Enumerable.Range(0, 4).Select(i => Gcs.RandomBytes(300_000, seed: 100 + i)).ToArray();
        await Gcs.PutObjectAsync(_http, bucket, "hot", versions[0]);
        var hashes = versions.Select(Gcs.Md5Base64).ToHashSet();

        var writers = Enumerable.Range(0, 8).Select(i => Gcs.PutObjectAsync(_http, bucket, "hot", versions[i % versions.Length]));
        var readers = Enumerable.Range(0, 16).Select(async _ =>
        {
            var bytes = await Gcs.DownloadAsync(_http, bucket, "hot");
            Assert.Contains(Gcs.Md5Base64(bytes), hashes);
        });
        await Task.WhenAll(writers.Cast<Task>().Concat(readers));
        Assert.Contains(Gcs.Md5Base64(await Gcs.DownloadAsync(_http, bucket, "hot")), hashes);
    }
}
