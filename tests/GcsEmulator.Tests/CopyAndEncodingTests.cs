using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GcsEmulator.Tests;

public sealed class CopyAndEncodingTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Rewrite_copies_content_and_metadata_into_a_new_generation()
    {
        var source = await Gcs.CreateBucketAsync(_http);
        var target = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(5000, seed: 20);
        var original = await Gcs.PutObjectAsync(_http, source, "src/a b.bin", content);

        var url = $"storage/v1/b/{source}/o/{Gcs.Esc("src/a b.bin")}/rewriteTo/b/{target}/o/{Gcs.Esc("dst/c d.bin")}?ifGenerationMatch=0";
        using var rewrite = await _http.PostAsync(url, Gcs.JsonBody(new { }));
        var response = await Gcs.JsonAsync(rewrite);
        Assert.True(rewrite.StatusCode == HttpStatusCode.OK, response.ToString());
        Assert.Equal("storage#rewriteResponse", response.GetProperty("kind").GetString());
        Assert.True(response.GetProperty("done").GetBoolean());
        Assert.Equal("5000", response.GetProperty("totalBytesRewritten").GetString());
        var resource = response.GetProperty("resource");
        Assert.Equal("dst/c d.bin", resource.GetProperty("name").GetString());
        Assert.Equal(target, resource.GetProperty("bucket").GetString());
        Assert.Equal(original.GetProperty("md5Hash").GetString(), resource.GetProperty("md5Hash").GetString());
        Assert.True(Gcs.Generation(resource) > Gcs.Generation(original));
        Assert.Equal(content, await Gcs.DownloadAsync(_http, target, "dst/c d.bin"));

        // Destination preconditions apply: a second create-only rewrite fails.
        using var again = await _http.PostAsync(url, Gcs.JsonBody(new { }));
        await Gcs.AssertErrorAsync(again, HttpStatusCode.PreconditionFailed, "conditionNotMet");
    }

    [Fact]
    public async Task Copy_honours_source_preconditions_and_missing_source()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var o = await Gcs.PutObjectAsync(_http, bucket, "from", [1, 2]);

        using (var stale = await _http.PostAsync(
            $"storage/v1/b/{bucket}/o/from/copyTo/b/{bucket}/o/to?ifSourceGenerationMatch={Gcs.Generation(o) + 1}", Gcs.JsonBody(new { })))
        {
            await Gcs.AssertErrorAsync(stale, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        using (var copy = await _http.PostAsync(
            $"storage/v1/b/{bucket}/o/from/copyTo/b/{bucket}/o/to?ifSourceGenerationMatch={Gcs.Generation(o)}", Gcs.JsonBody(new { contentType = "text/x-copied" })))
        {
            var copied = await Gcs.JsonAsync(copy);
            Assert.Equal(HttpStatusCode.OK, copy.StatusCode);
            Assert.Equal("storage#object", copied.GetProperty("kind").GetString());
            Assert.Equal("text/x-copied", copied.GetProperty("contentType").GetString());
        }
        Assert.Equal(new byte[] { 1, 2 }, await Gcs.DownloadAsync(_http, bucket, "to"));

        using var missing = await _http.PostAsync($"storage/v1/b/{bucket}/o/nothing/copyTo/b/{bucket}/o/x", Gcs.JsonBody(new { }));
        await Gcs.AssertErrorAsync(missing, HttpStatusCode.NotFound, "notFound");
    }

    [Fact]
    public async Task Gzipped_json_request_bodies_are_accepted()
    {
        var name = Gcs.NewBucketName();
        using var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { name })));
        }
        var body = new ByteArrayContent(compressed.ToArray());
        body.Headers.ContentType = new MediaTypeHeaderValue(Gcs.JsonType);
        body.Headers.ContentEncoding.Add("gzip");
        using var response = await _http.PostAsync("storage/v1/b?project=p", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(name, (await Gcs.JsonAsync(response)).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Chunked_transfer_encoding_uploads_work()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes((3 * 1024 * 1024) + 17, seed: 21);
        var body = new StreamContent(new NonSeekableStream(content));
        Assert.Null(body.Headers.ContentLength);
        using var response = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=media&name=chunked", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.RequestMessage!.Headers.TransferEncodingChunked);
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "chunked"));
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
