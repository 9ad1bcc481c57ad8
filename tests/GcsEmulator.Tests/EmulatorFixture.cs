using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace GcsEmulator.Tests;

/// <summary>One in-process emulator per test class, reached through a plain HttpClient.</summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    private GcsEmulatorServer? _server;

    public GcsEmulatorServer Server => _server ?? throw new InvalidOperationException("Not started.");

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _server = await GcsEmulatorServer.StartAsync();
        Http = CreateClient(_server.BaseUri);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public static HttpClient CreateClient(Uri baseUri) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = baseUri,
            Timeout = TimeSpan.FromSeconds(60),
        };
}

/// <summary>Small wire-level helpers shared by the tests.</summary>
internal static class Gcs
{
    public const string JsonType = "application/json";

    public static string NewBucketName() => "b-" + Guid.NewGuid().ToString("N")[..20];

    public static string Esc(string value) => Uri.EscapeDataString(value);

    public static async Task<string> CreateBucketAsync(HttpClient http, string? name = null)
    {
        name ??= NewBucketName();
        using var response = await http.PostAsync("storage/v1/b?project=test-project", JsonBody(new { name }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return name;
    }

    public static StringContent JsonBody(object value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, JsonType);

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task<HttpResponseMessage> UploadMediaAsync(
        HttpClient http, string bucket, string name, byte[] content, string? extraQuery = null, string contentType = "application/octet-stream")
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var url = $"upload/storage/v1/b/{bucket}/o?uploadType=media&name={Esc(name)}" + (extraQuery is null ? "" : "&" + extraQuery);
        return await http.PostAsync(url, body);
    }

    /// <summary>Uploads with uploadType=media, asserts 200 and returns the object resource.</summary>
    public static async Task<JsonElement> PutObjectAsync(HttpClient http, string bucket, string name, byte[] content, string? extraQuery = null)
    {
        using var response = await UploadMediaAsync(http, bucket, name, content, extraQuery);
        var json = await JsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Upload failed: {(int)response.StatusCode} {json}");
        return json;
    }

    public static Task<HttpResponseMessage> GetMetadataAsync(HttpClient http, string bucket, string name, string? query = null) =>
        http.GetAsync($"storage/v1/b/{bucket}/o/{Esc(name)}" + (query is null ? "" : "?" + query));

    public static async Task<byte[]> DownloadAsync(HttpClient http, string bucket, string name)
    {
        using var response = await http.GetAsync($"storage/v1/b/{bucket}/o/{Esc(name)}?alt=media");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static long Generation(JsonElement resource) => long.Parse(resource.GetProperty("generation").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

#pragma warning disable CA5351 // MD5 is part of the Cloud Storage wire format (md5Hash), not a security measure.
    public static string Md5Base64(byte[] data) => Convert.ToBase64String(MD5.HashData(data));
#pragma warning restore CA5351

    /// <summary>Asserts the documented JSON error shape and returns the reason.</summary>
    public static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} but got {(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(body);
        var error = document.RootElement.GetProperty("error");
        Assert.Equal((int)status, error.GetProperty("code").GetInt32());
        var message = error.GetProperty("message").GetString();
        Assert.False(string.IsNullOrEmpty(message));
        var errors = error.GetProperty("errors");
        Assert.Equal(1, errors.GetArrayLength());
        var first = errors[0];
        Assert.Equal(message, first.GetProperty("message").GetString());
        Assert.Equal("global", first.GetProperty("domain").GetString());
        Assert.Equal(reason, first.GetProperty("reason").GetString());
    }
}
