using System.Net;

namespace GcsEmulator.Tests;

public sealed class PreconditionTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Every_write_gets_a_new_strictly_increasing_generation()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var generations = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            var o = await Gcs.PutObjectAsync(_http, bucket, i % 2 == 0 ? "same" : $"other-{i}", [(byte)i]);
            Assert.Equal("1", o.GetProperty("metageneration").GetString());
            generations.Add(Gcs.Generation(o));
        }
        Assert.Equal(generations.Order(), generations);
        Assert.Equal(generations.Count, generations.Distinct().Count());
    }

    [Fact]
    public async Task IfGenerationMatch_zero_creates_only_once()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var first = await Gcs.PutObjectAsync(_http, bucket, "once", "first"u8.ToArray(), "ifGenerationMatch=0");
        Assert.True(Gcs.Generation(first) > 0);

        using var second = await Gcs.UploadMediaAsync(_http, bucket, "once", "second"u8.ToArray(), "ifGenerationMatch=0");
        await Gcs.AssertErrorAsync(second, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        var error = (await Gcs.JsonAsync(second)).GetProperty("error");
        Assert.Equal(412, error.GetProperty("code").GetInt32());
        Assert.Equal("At least one of the pre-conditions you specified did not hold.", error.GetProperty("message").GetString());

        Assert.Equal("first"u8.ToArray(), await Gcs.DownloadAsync(_http, bucket, "once"));
    }

    [Fact]
    public async Task IfGenerationMatch_implements_compare_and_swap()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var v1 = await Gcs.PutObjectAsync(_http, bucket, "cas", "v1"u8.ToArray());
        var v2 = await Gcs.PutObjectAsync(_http, bucket, "cas", "v2"u8.ToArray(), $"ifGenerationMatch={Gcs.Generation(v1)}");
        Assert.True(Gcs.Generation(v2) > Gcs.Generation(v1));

        // A writer still holding v1's generation loses.
        using var stale = await Gcs.UploadMediaAsync(_http, bucket, "cas", "stale"u8.ToArray(), $"ifGenerationMatch={Gcs.Generation(v1)}");
        await Gcs.AssertErrorAsync(stale, HttpStatusCode.PreconditionFailed, "conditionNotMet");

        var v3 = await Gcs.PutObjectAsync(_http, bucket, "cas", "v3"u8.ToArray(), $"ifGenerationMatch={Gcs.Generation(v2)}");
        Assert.True(Gcs.Generation(v3) > Gcs.Generation(v2));
        Assert.Equal("v3"u8.ToArray(), await Gcs.DownloadAsync(_http, bucket, "cas"));

        // Conditions that need a live object fail when there is none.
        using var noObject = await Gcs.UploadMediaAsync(_http, bucket, "absent", [1], "ifGenerationMatch=123");
        await Gcs.AssertErrorAsync(noObject, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        using var notMatchNoObject = await Gcs.UploadMediaAsync(_http, bucket, "absent", [1], "ifGenerationNotMatch=0");
        await Gcs.AssertErrorAsync(notMatchNoObject, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        using var metaNoObject = await Gcs.UploadMediaAsync(_http, bucket, "absent", [1], "ifMetagenerationMatch=1");
        await Gcs.AssertErrorAsync(metaNoObject, HttpStatusCode.PreconditionFailed, "conditionNotMet");

        // ifGenerationNotMatch / ifMetagenerationMatch against a live object.
        await Gcs.PutObjectAsync(_http, bucket, "cas", "v4"u8.ToArray(), $"ifGenerationNotMatch={Gcs.Generation(v1)}&ifMetagenerationMatch=1");
        using var sameGeneration = await Gcs.UploadMediaAsync(_http, bucket, "cas", [1], "ifGenerationNotMatch=0&ifMetagenerationNotMatch=1");
        await Gcs.AssertErrorAsync(sameGeneration, HttpStatusCode.PreconditionFailed, "conditionNotMet");
    }

    [Fact]
    public async Task Concurrent_create_only_writes_have_exactly_one_winner()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            using var response = await Gcs.UploadMediaAsync(_http, bucket, "contended", [(byte)i], "ifGenerationMatch=0");
            return response.StatusCode;
        }));
        Assert.Equal(1, attempts.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(11, attempts.Count(s => s == HttpStatusCode.PreconditionFailed));
    }

    [Fact]
    public async Task Delete_honours_preconditions()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var o = await Gcs.PutObjectAsync(_http, bucket, "victim", [1]);
        var generation = Gcs.Generation(o);

        using (var stale = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/victim?ifGenerationMatch={generation + 1}"))
        {
            await Gcs.AssertErrorAsync(stale, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        using (var notMatch = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/victim?ifGenerationNotMatch={generation}"))
        {
            await Gcs.AssertErrorAsync(notMatch, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        using (var meta = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/victim?ifMetagenerationMatch=2"))
        {
            await Gcs.AssertErrorAsync(meta, HttpStatusCode.PreconditionFailed, "conditionNotMet");
        }
        Assert.Equal(new byte[] { 1 }, await Gcs.DownloadAsync(_http, bucket, "victim"));

        using (var ok = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/victim?ifGenerationMatch={generation}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
            Assert.Empty(await ok.Content.ReadAsByteArrayAsync());
        }
        using (var again = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/victim"))
        {
            await Gcs.AssertErrorAsync(again, HttpStatusCode.NotFound, "notFound");
        }
        using var get = await Gcs.GetMetadataAsync(_http, bucket, "victim");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);

        // Re-creating after delete with ifGenerationMatch=0 works again.
        await Gcs.PutObjectAsync(_http, bucket, "victim", [2], "ifGenerationMatch=0");
    }
}
