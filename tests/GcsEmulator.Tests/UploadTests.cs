using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace GcsEmulator.Tests;

public sealed class UploadTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private const int Chunk = 256 * 1024;
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Media_upload_returns_complete_object_resource()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(10_000, seed: 1);
        using var response = await Gcs.UploadMediaAsync(_http, bucket, "dir/file.bin", content, contentType: "application/x-test");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var o = await Gcs.JsonAsync(response);

        Assert.Equal("storage#object", o.GetProperty("kind").GetString());
        Assert.Equal("dir/file.bin", o.GetProperty("name").GetString());
        Assert.Equal(bucket, o.GetProperty("bucket").GetString());
        Assert.Equal("10000", o.GetProperty("size").GetString());
        Assert.Equal("1", o.GetProperty("metageneration").GetString());
        Assert.Equal("application/x-test", o.GetProperty("contentType").GetString());
        Assert.Equal("STANDARD", o.GetProperty("storageClass").GetString());
        Assert.Equal(Gcs.Md5Base64(content), o.GetProperty("md5Hash").GetString());
        Assert.Equal(Crc32C.ToBase64(Crc32C.ComputeWithTable(content)), o.GetProperty("crc32c").GetString());
        var generation = Gcs.Generation(o);
        Assert.True(generation > 0);
        Assert.Equal($"{bucket}/dir/file.bin/{generation}", o.GetProperty("id").GetString());
        Assert.False(string.IsNullOrEmpty(o.GetProperty("etag").GetString()));
        Assert.EndsWith($"/storage/v1/b/{bucket}/o/dir%2Ffile.bin", o.GetProperty("selfLink").GetString(), StringComparison.Ordinal);
        var created = DateTimeOffset.Parse(o.GetProperty("timeCreated").GetString()!, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs((DateTimeOffset.UtcNow - created).TotalMinutes) < 5);
        Assert.Equal(o.GetProperty("timeCreated").GetString(), o.GetProperty("updated").GetString());

        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "dir/file.bin"));

        // mediaLink is directly downloadable.
        using var viaMediaLink = await _http.GetAsync(o.GetProperty("mediaLink").GetString());
        Assert.Equal(HttpStatusCode.OK, viaMediaLink.StatusCode);
        Assert.Equal(content, await viaMediaLink.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Media_upload_requires_name_and_upload_type()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var noName = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=media", new ByteArrayContent([1]));
        await Gcs.AssertErrorAsync(noName, HttpStatusCode.BadRequest, "required");

        using var noType = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?name=x", new ByteArrayContent([1]));
        await Gcs.AssertErrorAsync(noType, HttpStatusCode.BadRequest, "wrongUrlForUpload");

        using var badPrecondition = await Gcs.UploadMediaAsync(_http, bucket, "x", [1], "ifGenerationMatch=abc");
        await Gcs.AssertErrorAsync(badPrecondition, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task Multipart_upload_takes_metadata_from_first_part_and_media_from_second()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Encoding.UTF8.GetBytes("a,b\n1,2\n");
        using var multipart = new MultipartContent("related", "emulator-boundary-" + Guid.NewGuid().ToString("N"));
        multipart.Add(Gcs.JsonBody(new { name = "reports/q1.csv", contentType = "text/csv", metadata = new { owner = "tests" }, md5Hash = Gcs.Md5Base64(content) }));
        var media = new ByteArrayContent(content);
        media.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        multipart.Add(media);

        using var response = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=multipart", multipart);
        var o = await Gcs.JsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, o.ToString());
        Assert.Equal("reports/q1.csv", o.GetProperty("name").GetString());
        Assert.Equal("text/csv", o.GetProperty("contentType").GetString());
        Assert.Equal("tests", o.GetProperty("metadata").GetProperty("owner").GetString());
        Assert.Equal(content.Length.ToString(CultureInfo.InvariantCulture), o.GetProperty("size").GetString());

        using var get = await _http.GetAsync($"storage/v1/b/{bucket}/o/{Gcs.Esc("reports/q1.csv")}?alt=media");
        Assert.Equal("text/csv", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Multipart_upload_with_wrong_md5_is_rejected_and_stores_nothing()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var multipart = new MultipartContent("related");
        multipart.Add(Gcs.JsonBody(new { name = "bad", md5Hash = Gcs.Md5Base64([9, 9, 9]) }));
        multipart.Add(new ByteArrayContent([1, 2, 3]));

        using var response = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=multipart", multipart);
        await Gcs.AssertErrorAsync(response, HttpStatusCode.BadRequest, "invalid");
        using var get = await Gcs.GetMetadataAsync(_http, bucket, "bad");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Insert_without_media_creates_empty_object()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var response = await _http.PostAsync($"storage/v1/b/{bucket}/o", Gcs.JsonBody(new { name = "folder/", contentType = "text/plain" }));
        var o = await Gcs.JsonAsync(response);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("0", o.GetProperty("size").GetString());
        Assert.Equal("1B2M2Y8AsgTpgAmY7PhCfg==", o.GetProperty("md5Hash").GetString()); // MD5 of nothing
        Assert.Equal("AAAAAA==", o.GetProperty("crc32c").GetString());
        Assert.Empty(await Gcs.DownloadAsync(_http, bucket, "folder/"));
    }

    [Fact]
    public async Task Resumable_upload_in_chunks_with_status_queries()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes((3 * Chunk) + 1000, seed: 2);
        var session = await InitiateAsync(bucket, "big/object.bin", uploadContentType: "application/x-big");

        // Nothing received yet: 308 without a Range header.
        using (var status = await StatusQueryAsync(session, "bytes */*"))
        {
            Assert.Equal(308, (int)status.StatusCode);
            Assert.Null(RangeOf(status));
        }

        using (var first = await PutChunkAsync(session, content, 0, Chunk, total: null))
        {
            Assert.Equal(308, (int)first.StatusCode);
            Assert.Equal($"bytes=0-{Chunk - 1}", RangeOf(first));
        }

        using (var status = await StatusQueryAsync(session, $"bytes */{content.Length}"))
        {
            Assert.Equal(308, (int)status.StatusCode);
            Assert.Equal($"bytes=0-{Chunk - 1}", RangeOf(status));
        }

        using (var second = await PutChunkAsync(session, content, Chunk, 2 * Chunk, total: null))
        {
            Assert.Equal(308, (int)second.StatusCode);
            Assert.Equal($"bytes=0-{(3 * Chunk) - 1}", RangeOf(second));
        }

        // Not visible until the upload completes.
        using (var notYet = await Gcs.GetMetadataAsync(_http, bucket, "big/object.bin"))
        {
            Assert.Equal(HttpStatusCode.NotFound, notYet.StatusCode);
        }

        using (var last = await PutChunkAsync(session, content, 3 * Chunk, 1000, total: content.Length))
        {
            var o = await Gcs.JsonAsync(last);
            Assert.True(last.StatusCode == HttpStatusCode.OK, o.ToString());
            Assert.Equal(content.Length.ToString(CultureInfo.InvariantCulture), o.GetProperty("size").GetString());
            Assert.Equal("application/x-big", o.GetProperty("contentType").GetString());
            Assert.Equal(Gcs.Md5Base64(content), o.GetProperty("md5Hash").GetString());
        }

        // A status query after completion returns the object.
        using (var done = await StatusQueryAsync(session, $"bytes */{content.Length}"))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            Assert.Equal("big/object.bin", (await Gcs.JsonAsync(done)).GetProperty("name").GetString());
        }

        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "big/object.bin"));
    }

    [Fact]
    public async Task Resumable_retried_chunk_overlapping_persisted_bytes_is_accepted()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes((2 * Chunk) + 10, seed: 3);
        var session = await InitiateAsync(bucket, "retry");

        using (var first = await PutChunkAsync(session, content, 0, Chunk, total: null))
        {
            Assert.Equal(308, (int)first.StatusCode);
        }
        // The client did not see the reply and resends from 0, this time with everything.
        using (var all = await PutChunkAsync(session, content, 0, content.Length, total: content.Length))
        {
            Assert.Equal(HttpStatusCode.OK, all.StatusCode);
        }
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "retry"));
    }

    [Fact]
    public async Task Resumable_unknown_size_is_finished_by_a_status_query_with_the_total()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(Chunk, seed: 4);
        var session = await InitiateAsync(bucket, "streamed");

        using (var chunk = await PutChunkAsync(session, content, 0, Chunk, total: null))
        {
            Assert.Equal(308, (int)chunk.StatusCode);
        }
        using var finish = await StatusQueryAsync(session, $"bytes */{Chunk}");
        Assert.Equal(HttpStatusCode.OK, finish.StatusCode);
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "streamed"));
    }

    [Fact]
    public async Task Resumable_single_put_without_content_range_uploads_everything()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(5000, seed: 5);
        var session = await InitiateAsync(bucket, "single", declaredLength: content.Length);
        using var response = await _http.PutAsync(session, new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "single"));
    }

    [Fact]
    public async Task Resumable_session_uri_has_upload_id_and_metadata_body_sets_name()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var init = await _http.PostAsync(
            $"upload/storage/v1/b/{bucket}/o?uploadType=resumable",
            Gcs.JsonBody(new { name = "from-body.txt", contentType = "text/plain", metadata = new { k = "v" } }));
        Assert.Equal(HttpStatusCode.OK, init.StatusCode);
        var location = init.Headers.Location!;
        Assert.True(location.IsAbsoluteUri);
        Assert.Contains("upload_id=", location.Query, StringComparison.Ordinal);
        Assert.Equal(_http.BaseAddress!.Authority, location.Authority);

        using var put = await PutChunkAsync(location, "hello"u8.ToArray(), 0, 5, total: 5);
        var o = await Gcs.JsonAsync(put);
        Assert.Equal("from-body.txt", o.GetProperty("name").GetString());
        Assert.Equal("text/plain", o.GetProperty("contentType").GetString());
        Assert.Equal("v", o.GetProperty("metadata").GetProperty("k").GetString());
    }

    [Fact]
    public async Task Resumable_cancel_returns_499_and_discards_the_session()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(Chunk + 1, seed: 6);
        var session = await InitiateAsync(bucket, "cancelled");
        using (var chunk = await PutChunkAsync(session, content, 0, Chunk, total: null))
        {
            Assert.Equal(308, (int)chunk.StatusCode);
        }

        using (var cancel = await _http.DeleteAsync(session))
        {
            Assert.Equal(499, (int)cancel.StatusCode);
        }

        using (var after = await PutChunkAsync(session, content, Chunk, 1, total: content.Length))
        {
            await Gcs.AssertErrorAsync(after, HttpStatusCode.NotFound, "notFound");
        }
        using var get = await Gcs.GetMetadataAsync(_http, bucket, "cancelled");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Resumable_non_final_chunk_below_256KiB_is_rejected()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var session = await InitiateAsync(bucket, "tiny-chunks");
        using (var tiny = await PutChunkAsync(session, new byte[1000], 0, 1000, total: null))
        {
            await Gcs.AssertErrorAsync(tiny, HttpStatusCode.BadRequest, "invalid");
        }
        using var status = await StatusQueryAsync(session, "bytes */*");
        Assert.Equal(308, (int)status.StatusCode);
        Assert.Null(RangeOf(status));
    }

    [Fact]
    public async Task Resumable_non_multiple_chunk_persists_only_whole_256KiB_units()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes((2 * Chunk) + 500, seed: 7);
        var session = await InitiateAsync(bucket, "unaligned");
        using (var chunk = await PutChunkAsync(session, content, 0, Chunk + 100, total: null))
        {
            Assert.Equal(308, (int)chunk.StatusCode);
            Assert.Equal($"bytes=0-{Chunk - 1}", RangeOf(chunk));
        }
        // Continue from what the server says it has.
        using (var rest = await PutChunkAsync(session, content, Chunk, content.Length - Chunk, total: content.Length))
        {
            Assert.Equal(HttpStatusCode.OK, rest.StatusCode);
        }
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "unaligned"));
    }

    [Fact]
    public async Task Resumable_preconditions_are_checked_at_start_and_at_finalization()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var session = await InitiateAsync(bucket, "raced", query: "ifGenerationMatch=0");

        // Someone else creates the object while the upload is in progress.
        var winner = await Gcs.PutObjectAsync(_http, bucket, "raced", "winner"u8.ToArray());

        using (var final = await PutChunkAsync(session, "loser"u8.ToArray(), 0, 5, total: 5))
        {
            await Gcs.AssertErrorAsync(final, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        Assert.Equal("winner"u8.ToArray(), await Gcs.DownloadAsync(_http, bucket, "raced"));

        // Starting a create-only upload of an existing object fails immediately.
        using var init = await _http.PostAsync(
            $"upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=raced&ifGenerationMatch=0", Gcs.JsonBody(new { }));
        await Gcs.AssertErrorAsync(init, HttpStatusCode.PreconditionFailed, "conditionNotMet");

        // A CAS upload against the current generation succeeds.
        var cas = await InitiateAsync(bucket, "raced", query: $"ifGenerationMatch={Gcs.Generation(winner)}");
        using var ok = await PutChunkAsync(cas, "next"u8.ToArray(), 0, 4, total: 4);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.True(Gcs.Generation(await Gcs.JsonAsync(ok)) > Gcs.Generation(winner));
    }

    [Fact]
    public async Task Resumable_total_must_match_declared_length()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var session = await InitiateAsync(bucket, "declared", declaredLength: 10);
        using var wrong = await PutChunkAsync(session, new byte[5], 0, 5, total: 5);
        await Gcs.AssertErrorAsync(wrong, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task Aborted_media_upload_leaves_nothing()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = new StreamContent(new FailingStream(totalLength: 4 * 1024 * 1024, failAfter: 1024 * 1024));
        content.Headers.ContentLength = 4 * 1024 * 1024;
        await Assert.ThrowsAnyAsync<Exception>(() =>
            _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=media&name=partial", content));

        await Task.Delay(300);
        using var get = await Gcs.GetMetadataAsync(_http, bucket, "partial");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        using var list = await _http.GetAsync($"storage/v1/b/{bucket}/o");
        Assert.False((await Gcs.JsonAsync(list)).TryGetProperty("items", out _));
    }

    [Fact]
    public async Task Aborted_resumable_chunk_persists_nothing_of_that_chunk()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(3 * Chunk, seed: 8);
        var session = await InitiateAsync(bucket, "interrupted");
        using (var first = await PutChunkAsync(session, content, 0, Chunk, total: null))
        {
            Assert.Equal(308, (int)first.StatusCode);
        }

        var broken = new StreamContent(new FailingStream(totalLength: 2 * Chunk, failAfter: Chunk + 100));
        broken.Headers.ContentLength = 2 * Chunk;
        broken.Headers.ContentRange = new ContentRangeHeaderValue(Chunk, (3 * Chunk) - 1, 3 * Chunk);
        await Assert.ThrowsAnyAsync<Exception>(() => _http.PutAsync(session, broken));
        await Task.Delay(300);

        using (var status = await StatusQueryAsync(session, $"bytes */{3 * Chunk}"))
        {
            Assert.Equal(308, (int)status.StatusCode);
            Assert.Equal($"bytes=0-{Chunk - 1}", RangeOf(status));
        }
        using (var resume = await PutChunkAsync(session, content, Chunk, 2 * Chunk, total: content.Length))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }
        Assert.Equal(content, await Gcs.DownloadAsync(_http, bucket, "interrupted"));
    }

    [Fact]
    public async Task Upload_of_64MiB_object_round_trips()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var content = Gcs.RandomBytes(64 * 1024 * 1024, seed: 9);
        var o = await Gcs.PutObjectAsync(_http, bucket, "huge", content);
        Assert.Equal((64 * 1024 * 1024).ToString(CultureInfo.InvariantCulture), o.GetProperty("size").GetString());
        Assert.Equal(Gcs.Md5Base64(content), o.GetProperty("md5Hash").GetString());
        Assert.Equal(Crc32C.ToBase64(Crc32C.Compute(content)), o.GetProperty("crc32c").GetString());

        var downloaded = await Gcs.DownloadAsync(_http, bucket, "huge");
        Assert.True(content.AsSpan().SequenceEqual(downloaded));
    }

    private async Task<Uri> InitiateAsync(string bucket, string name, string? uploadContentType = null, long? declaredLength = null, string? query = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post,
            $"upload/storage/v1/b/{bucket}/o?uploadType=resumable&name={Gcs.Esc(name)}" + (query is null ? "" : "&" + query))
        {
            Content = Gcs.JsonBody(new { }),
        };
        if (uploadContentType is not null)
        {
            request.Headers.Add("X-Upload-Content-Type", uploadContentType);
        }
        if (declaredLength is not null)
        {
            request.Headers.Add("X-Upload-Content-Length", declaredLength.Value.ToString(CultureInfo.InvariantCulture));
        }
        using var response = await _http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.True(response.Headers.Contains("X-GUploader-UploadID"));
        return response.Headers.Location!;
    }

    private Task<HttpResponseMessage> PutChunkAsync(Uri session, byte[] content, long first, int count, long? total)
    {
        var body = new ByteArrayContent(content, (int)first, count);
        body.Headers.ContentRange = total is null
            ? new ContentRangeHeaderValue(first, first + count - 1)
            : new ContentRangeHeaderValue(first, first + count - 1, total.Value);
        return _http.PutAsync(session, body);
    }

    private Task<HttpResponseMessage> StatusQueryAsync(Uri session, string contentRange)
    {
        var body = new ByteArrayContent([]);
        Assert.True(body.Headers.TryAddWithoutValidation("Content-Range", contentRange));
        return _http.PutAsync(session, body);
    }

    private static string? RangeOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Range", out var values) ? string.Join(",", values) : null;

    /// <summary>
    /// A stream that produces <c>failAfter</c> bytes and then, after a pause that lets the server
    /// consume what was sent, fails so that the client aborts its request.
    /// </summary>
    private sealed class FailingStream(long totalLength, long failAfter) : Stream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= failAfter)
            {
                await Task.Delay(400, cancellationToken);
                throw new IOException("Simulated client failure.");
            }
            var n = (int)Math.Min(buffer.Length, failAfter - _position);
            buffer.Span[..n].Fill(0xAB);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => totalLength;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAfter)
            {
                throw new IOException("Simulated client failure.");
            }
            var n = (int)Math.Min(count, failAfter - _position);
            Array.Fill(buffer, (byte)0xAB, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
