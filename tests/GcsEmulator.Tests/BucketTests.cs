using System.Net;
using System.Text;

namespace GcsEmulator.Tests;

public sealed class BucketTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Insert_returns_bucket_resource_and_get_finds_it()
    {
        var name = Gcs.NewBucketName();
        using var insert = await _http.PostAsync("storage/v1/b?project=test-project", Gcs.JsonBody(new { name }));
        Assert.Equal(HttpStatusCode.OK, insert.StatusCode);
        var created = await Gcs.JsonAsync(insert);
        Assert.Equal("storage#bucket", created.GetProperty("kind").GetString());
        Assert.Equal(name, created.GetProperty("name").GetString());
        Assert.Equal(name, created.GetProperty("id").GetString());
        Assert.Equal("STANDARD", created.GetProperty("storageClass").GetString());
        Assert.EndsWith($"/storage/v1/b/{name}", created.GetProperty("selfLink").GetString(), StringComparison.Ordinal);

        using var get = await _http.GetAsync($"storage/v1/b/{name}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var fetched = await Gcs.JsonAsync(get);
        Assert.Equal(name, fetched.GetProperty("name").GetString());
        Assert.Equal(created.GetProperty("timeCreated").GetString(), fetched.GetProperty("timeCreated").GetString());
    }

    [Fact]
    public async Task Insert_of_existing_bucket_is_409_conflict()
    {
        var name = await Gcs.CreateBucketAsync(_http);
        using var again = await _http.PostAsync("storage/v1/b?project=test-project", Gcs.JsonBody(new { name }));
        await Gcs.AssertErrorAsync(again, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task Insert_validates_project_and_name()
    {
        using var noProject = await _http.PostAsync("storage/v1/b", Gcs.JsonBody(new { name = Gcs.NewBucketName() }));
        await Gcs.AssertErrorAsync(noProject, HttpStatusCode.BadRequest, "required");

        using var noName = await _http.PostAsync("storage/v1/b?project=p", Gcs.JsonBody(new { location = "US" }));
        await Gcs.AssertErrorAsync(noName, HttpStatusCode.BadRequest, "required");

        using var badName = await _http.PostAsync("storage/v1/b?project=p", Gcs.JsonBody(new { name = "Upper_Case!" }));
        await Gcs.AssertErrorAsync(badName, HttpStatusCode.BadRequest, "invalid");

        using var notJson = await _http.PostAsync("storage/v1/b?project=p", new StringContent("{nope", Encoding.UTF8, Gcs.JsonType));
        await Gcs.AssertErrorAsync(notJson, HttpStatusCode.BadRequest, "parseError");
    }

    [Fact]
    public async Task Get_of_missing_bucket_is_404_with_error_body()
    {
        using var response = await _http.GetAsync($"storage/v1/b/{Gcs.NewBucketName()}");
        await Gcs.AssertErrorAsync(response, HttpStatusCode.NotFound, "notFound");
    }

    [Fact]
    public async Task Delete_refuses_non_empty_bucket_then_deletes_empty_one()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        await Gcs.PutObjectAsync(_http, bucket, "file", [1, 2, 3]);

        using var refused = await _http.DeleteAsync($"storage/v1/b/{bucket}");
        await Gcs.AssertErrorAsync(refused, HttpStatusCode.Conflict, "conflict");

        using var deleteObject = await _http.DeleteAsync($"storage/v1/b/{bucket}/o/file");
        Assert.Equal(HttpStatusCode.NoContent, deleteObject.StatusCode);

        using var deleted = await _http.DeleteAsync($"storage/v1/b/{bucket}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        using var gone = await _http.GetAsync($"storage/v1/b/{bucket}");
        await Gcs.AssertErrorAsync(gone, HttpStatusCode.NotFound, "notFound");

        using var deleteAgain = await _http.DeleteAsync($"storage/v1/b/{bucket}");
        await Gcs.AssertErrorAsync(deleteAgain, HttpStatusCode.NotFound, "notFound");
    }

    [Fact]
    public async Task List_returns_the_projects_buckets()
    {
        var project = "proj-" + Guid.NewGuid().ToString("N")[..8];
        var first = Gcs.NewBucketName();
        var second = Gcs.NewBucketName();
        foreach (var name in new[] { first, second })
        {
            using var insert = await _http.PostAsync($"storage/v1/b?project={project}", Gcs.JsonBody(new { name }));
            Assert.Equal(HttpStatusCode.OK, insert.StatusCode);
        }

        using var list = await _http.GetAsync($"storage/v1/b?project={project}");
        var json = await Gcs.JsonAsync(list);
        Assert.Equal("storage#buckets", json.GetProperty("kind").GetString());
        var names = json.GetProperty("items").EnumerateArray().Select(b => b.GetProperty("name").GetString()).ToList();
        Assert.Equal(new[] { first, second }.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task Object_operations_on_missing_bucket_are_404()
    {
        var missing = Gcs.NewBucketName();
        using var upload = await Gcs.UploadMediaAsync(_http, missing, "x", [1]);
        await Gcs.AssertErrorAsync(upload, HttpStatusCode.NotFound, "notFound");

        using var list = await _http.GetAsync($"storage/v1/b/{missing}/o");
        await Gcs.AssertErrorAsync(list, HttpStatusCode.NotFound, "notFound");

        using var get = await _http.GetAsync($"storage/v1/b/{missing}/o/x?alt=media");
        await Gcs.AssertErrorAsync(get, HttpStatusCode.NotFound, "notFound");

        using var delete = await _http.DeleteAsync($"storage/v1/b/{missing}/o/x");
        await Gcs.AssertErrorAsync(delete, HttpStatusCode.NotFound, "notFound");

        using var resumable = await _http.PostAsync(
            $"upload/storage/v1/b/{missing}/o?uploadType=resumable&name=x", Gcs.JsonBody(new { }));
        await Gcs.AssertErrorAsync(resumable, HttpStatusCode.NotFound, "notFound");
    }

    [Fact]
    public async Task Unknown_paths_are_404_json()
    {
        using var response = await _http.GetAsync("storage/v1/nothing/here");
        await Gcs.AssertErrorAsync(response, HttpStatusCode.NotFound, "notFound");
    }
}
