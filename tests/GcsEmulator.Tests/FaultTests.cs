using System.Net;
using System.Text;

namespace GcsEmulator.Tests;

public sealed class FaultTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Fault_fails_the_next_N_matching_requests_then_clears()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        await Gcs.PutObjectAsync(_http, bucket, "obj", [1]);
        var otherBucket = await Gcs.CreateBucketAsync(_http);

        using (var arm = await _http.PostAsync("_emulator/faults",
            Gcs.JsonBody(new { status = 503, count = 2, path = $"/storage/v1/b/{bucket}/o", method = "GET" })))
        {
            Assert.Equal(HttpStatusCode.OK, arm.StatusCode);
            var listed = (await Gcs.JsonAsync(arm)).GetProperty("faults");
            Assert.Contains(listed.EnumerateArray(), f => f.GetProperty("path").GetString() == $"/storage/v1/b/{bucket}/o");
        }

        // Requests that do not match are unaffected.
        using (var other = await _http.GetAsync($"storage/v1/b/{otherBucket}/o"))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }
        using (var upload = await Gcs.UploadMediaAsync(_http, bucket, "unaffected", [2]))
        {
            Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        }

        for (var i = 0; i < 2; i++)
        {
            using var failed = await _http.GetAsync($"storage/v1/b/{bucket}/o/obj?alt=media");
            await Gcs.AssertErrorAsync(failed, HttpStatusCode.ServiceUnavailable, "backendError");
        }
        using var recovered = await _http.GetAsync($"storage/v1/b/{bucket}/o/obj?alt=media");
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }

    [Fact]
    public async Task Fault_before_processing_has_no_effect_on_state()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        fixture.Server.InjectFault(new EmulatorFault { Status = 429, Path = $"/upload/storage/v1/b/{bucket}/o", RetryAfterSeconds = 1 });

        using (var limited = await Gcs.UploadMediaAsync(_http, bucket, "first", [1], "ifGenerationMatch=0"))
        {
            await Gcs.AssertErrorAsync(limited, HttpStatusCode.TooManyRequests, "rateLimitExceeded");
            Assert.Equal("1", limited.Headers.GetValues("Retry-After").Single());
        }
        using (var absent = await Gcs.GetMetadataAsync(_http, bucket, "first"))
        {
            Assert.Equal(HttpStatusCode.NotFound, absent.StatusCode);
        }
        // The retry succeeds.
        await Gcs.PutObjectAsync(_http, bucket, "first", [1], "ifGenerationMatch=0");
    }

    [Fact]
    public async Task Fault_after_processing_models_a_lost_reply()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using (var arm = await _http.PostAsync("_emulator/faults",
            Gcs.JsonBody(new { status = 500, path = $"/upload/storage/v1/b/{bucket}/o", after = true })))
        {
            Assert.Equal(HttpStatusCode.OK, arm.StatusCode);
        }

        using (var lost = await Gcs.UploadMediaAsync(_http, bucket, "written", "data"u8.ToArray(), "ifGenerationMatch=0"))
        {
            await Gcs.AssertErrorAsync(lost, HttpStatusCode.InternalServerError, "internalError");
        }
        // The write happened, so a create-only retry now sees the object.
        using (var retry = await Gcs.UploadMediaAsync(_http, bucket, "written", "data"u8.ToArray(), "ifGenerationMatch=0"))
        {
            await Gcs.AssertErrorAsync(retry, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        Assert.Equal("data"u8.ToArray(), await Gcs.DownloadAsync(_http, bucket, "written"));
    }

    [Fact]
    public async Task Abort_fault_drops_the_connection()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        fixture.Server.InjectFault(new EmulatorFault { Abort = true, Path = $"/storage/v1/b/{bucket}" });
        // A fresh client: a request on a new connection is not silently retried by the handler.
        using (var fresh = EmulatorFixture.CreateClient(fixture.Server.BaseUri))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => fresh.GetAsync($"storage/v1/b/{bucket}"));
        }
        using var after = await _http.GetAsync($"storage/v1/b/{bucket}");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Fault_can_target_a_query_and_be_cleared()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using (var arm = await _http.PostAsync("_emulator/faults",
            Gcs.JsonBody(new[] { new { status = 503, count = 5, path = $"/upload/storage/v1/b/{bucket}", query = "uploadType=resumable" } })))
        {
            Assert.Equal(HttpStatusCode.OK, arm.StatusCode);
        }
        using (var media = await Gcs.UploadMediaAsync(_http, bucket, "m", [1]))
        {
            Assert.Equal(HttpStatusCode.OK, media.StatusCode);
        }
        using (var resumable = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=r", Gcs.JsonBody(new { })))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, resumable.StatusCode);
        }

        using (var clear = await _http.DeleteAsync("_emulator/faults"))
        {
            Assert.Equal(HttpStatusCode.NoContent, clear.StatusCode);
        }
        using (var list = await _http.GetAsync("_emulator/faults"))
        {
            Assert.Equal(0, (await Gcs.JsonAsync(list)).GetProperty("faults").GetArrayLength());
        }
        using var ok = await _http.PostAsync($"upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=r", Gcs.JsonBody(new { }));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Invalid_fault_definitions_are_rejected()
    {
        using var unknown = await _http.PostAsync("_emulator/faults", new StringContent("{\"stauts\":503}", Encoding.UTF8, Gcs.JsonType));
        await Gcs.AssertErrorAsync(unknown, HttpStatusCode.BadRequest, "invalid");
        using var zero = await _http.PostAsync("_emulator/faults", Gcs.JsonBody(new { status = 503, count = 0 }));
        await Gcs.AssertErrorAsync(zero, HttpStatusCode.BadRequest, "invalid");
    }
}

/// <summary>Reset gets its own server so it cannot disturb other tests.</summary>
public sealed class ResetTests
{
    [Fact]
    public async Task Reset_drops_buckets_objects_sessions_and_faults()
    {
        await using var server = await GcsEmulatorServer.StartAsync();
        using var http = EmulatorFixture.CreateClient(server.BaseUri);
        server.CreateBucket("kept-until-reset");
        await Gcs.PutObjectAsync(http, "kept-until-reset", "o", [1]);
        Assert.Equal(new byte[] { 1 }, server.TryGetObjectContent("kept-until-reset", "o"));
        using (var init = await http.PostAsync("upload/storage/v1/b/kept-until-reset/o?uploadType=resumable&name=r", Gcs.JsonBody(new { })))
        {
            Assert.Equal(HttpStatusCode.OK, init.StatusCode);
            var session = init.Headers.Location!;
            server.InjectFault(new EmulatorFault { Status = 503, Path = "/never-requested" });

            using (var reset = await http.PostAsync("_emulator/reset", null))
            {
                Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
            }

            using var put = await http.PutAsync(session, new ByteArrayContent([1]));
            Assert.Equal(HttpStatusCode.NotFound, put.StatusCode);
        }

        using (var bucket = await http.GetAsync("storage/v1/b/kept-until-reset"))
        {
            Assert.Equal(HttpStatusCode.NotFound, bucket.StatusCode);
        }
        using var faults = await http.GetAsync("_emulator/faults");
        Assert.Equal(0, (await Gcs.JsonAsync(faults)).GetProperty("faults").GetArrayLength());
        Assert.Null(server.TryGetObjectContent("kept-until-reset", "o"));
    }

    [Fact]
    public async Task Two_servers_are_independent_and_ports_are_distinct()
    {
        await using var a = await GcsEmulatorServer.StartAsync();
        await using var b = await GcsEmulatorServer.StartAsync();
        Assert.NotEqual(a.BaseUri.Port, b.BaseUri.Port);
        Assert.Equal("127.0.0.1", a.BaseUri.Host);
        a.CreateBucket("only-in-a");
        using var httpB = EmulatorFixture.CreateClient(b.BaseUri);
        using var response = await httpB.GetAsync("storage/v1/b/only-in-a");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
