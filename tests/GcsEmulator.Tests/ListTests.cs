using System.Net;
using System.Text.Json;

namespace GcsEmulator.Tests;

public sealed class ListTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Paging_across_more_than_1000_objects_returns_everything_in_order()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var names = Enumerable.Range(0, 1205).Select(i => $"obj-{i:D5}").ToList();
        await UploadAllAsync(bucket, names);

        var pages = new List<List<string>>();
        string? token = null;
        do
        {
            var url = $"storage/v1/b/{bucket}/o" + (token is null ? "" : $"?pageToken={Gcs.Esc(token)}");
            var page = await ListAsync(url);
            pages.Add(Names(page));
            token = page.TryGetProperty("nextPageToken", out var next) ? next.GetString() : null;
        }
        while (token is not null);

        Assert.Equal([1000, 205], pages.Select(p => p.Count));
        Assert.Equal(names, pages.SelectMany(p => p));

        // maxResults above 1000 is capped; small pages work too.
        Assert.Equal(1000, Names(await ListAsync($"storage/v1/b/{bucket}/o?maxResults=5000")).Count);
        var collected = new List<string>();
        token = null;
        var requests = 0;
        do
        {
            var page = await ListAsync($"storage/v1/b/{bucket}/o?prefix=obj-000&maxResults=7" + (token is null ? "" : $"&pageToken={Gcs.Esc(token)}"));
            collected.AddRange(Names(page));
            token = page.TryGetProperty("nextPageToken", out var next) ? next.GetString() : null;
            requests++;
        }
        while (token is not null);
        Assert.Equal(names.Where(n => n.StartsWith("obj-000", StringComparison.Ordinal)), collected);
        Assert.Equal(15, requests); // 100 names in pages of 7
    }

    [Fact]
    public async Task Prefix_and_delimiter_give_directory_listing()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        await UploadAllAsync(bucket, ["a.txt", "dir/", "dir/b.txt", "dir/sub/c.txt", "dir/sub/d.txt", "dir/z/e.txt", "dirx", "other/f.txt"]);

        var root = await ListAsync($"storage/v1/b/{bucket}/o?delimiter=/");
        Assert.Equal(["a.txt", "dirx"], Names(root));
        Assert.Equal(["dir/", "other/"], Prefixes(root));

        var dir = await ListAsync($"storage/v1/b/{bucket}/o?delimiter=/&prefix=dir/");
        Assert.Equal(["dir/", "dir/b.txt"], Names(dir));
        Assert.Equal(["dir/sub/", "dir/z/"], Prefixes(dir));

        var flat = await ListAsync($"storage/v1/b/{bucket}/o?prefix=dir/sub/");
        Assert.Equal(["dir/sub/c.txt", "dir/sub/d.txt"], Names(flat));
        Assert.False(flat.TryGetProperty("prefixes", out _));

        var trailing = await ListAsync($"storage/v1/b/{bucket}/o?delimiter=/&includeTrailingDelimiter=true");
        Assert.Equal(["a.txt", "dir/", "dirx"], Names(trailing));

        var empty = await ListAsync($"storage/v1/b/{bucket}/o?prefix=nothing");
        Assert.Equal("storage#objects", empty.GetProperty("kind").GetString());
        Assert.False(empty.TryGetProperty("items", out _));
        Assert.False(empty.TryGetProperty("nextPageToken", out _));
    }

    [Fact]
    public async Task Delimiter_paging_counts_prefixes_and_never_repeats_them()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        var names = new List<string>();
        for (var d = 0; d < 5; d++)
        {
            for (var f = 0; f < 3; f++)
            {
                names.Add($"d{d}/f{f}");
            }
            names.Add($"file{d}");
        }
        await UploadAllAsync(bucket, names);

        var items = new List<string>();
        var prefixes = new List<string>();
        string? token = null;
        do
        {
            var page = await ListAsync($"storage/v1/b/{bucket}/o?delimiter=/&maxResults=2" + (token is null ? "" : $"&pageToken={Gcs.Esc(token)}"));
            Assert.True(Names(page).Count + Prefixes(page).Count <= 2);
            items.AddRange(Names(page));
            prefixes.AddRange(Prefixes(page));
            token = page.TryGetProperty("nextPageToken", out var next) ? next.GetString() : null;
        }
        while (token is not null);

        Assert.Equal(["d0/", "d1/", "d2/", "d3/", "d4/"], prefixes);
        Assert.Equal(["file0", "file1", "file2", "file3", "file4"], items);
    }

    [Fact]
    public async Task Start_and_end_offsets_bound_the_listing()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        await UploadAllAsync(bucket, ["a", "b", "c", "d", "e"]);
        var page = await ListAsync($"storage/v1/b/{bucket}/o?startOffset=b&endOffset=e");
        Assert.Equal(["b", "c", "d"], Names(page));
    }

    [Fact]
    public async Task Order_is_by_utf8_bytes_not_utf16()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
        var names = new[] { "x\U0001F600", "x\uFF5E", "x~", "xA" };
        await UploadAllAsync(bucket, names);
        var page = await ListAsync($"storage/v1/b/{bucket}/o");
        Assert.Equal(["xA", "x~", "x\uFF5E", "x\U0001F600"], Names(page));
    }

    [Fact]
    public async Task Invalid_list_parameters_are_400()
    {
        var bucket = await Gcs.CreateBucketAsync(_http);
        using var badToken = await _http.GetAsync($"storage/v1/b/{bucket}/o?pageToken=%%%");
        await Gcs.AssertErrorAsync(badToken, HttpStatusCode.BadRequest, "invalid");
        using var badMax = await _http.GetAsync($"storage/v1/b/{bucket}/o?maxResults=-1");
        await Gcs.AssertErrorAsync(badMax, HttpStatusCode.BadRequest, "invalid");
    }

    private async Task UploadAllAsync(string bucket, IEnumerable<string> names)
    {
        using var throttle = new SemaphoreSlim(16);
        await Task.WhenAll(names.Select(async name =>
        {
            await throttle.WaitAsync();
            try
            {
                await Gcs.PutObjectAsync(_http, bucket, name, [1]);
            }
            finally
            {
                throttle.Release();
            }
        }));
    }

    private async Task<JsonElement> ListAsync(string url)
    {
        using var response = await _http.GetAsync(url);
        var json = await Gcs.JsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, json.ToString());
        return json;
    }

    private static List<string> Names(JsonElement page) =>
        page.TryGetProperty("items", out var items)
            ? items.EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList()
            : [];

    private static List<string> Prefixes(JsonElement page) =>
        page.TryGetProperty("prefixes", out var prefixes)
            ? prefixes.EnumerateArray().Select(p => p.GetString()!).ToList()
            : [];
}
