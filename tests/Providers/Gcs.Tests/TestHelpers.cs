using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Http;
using Google.Cloud.Storage.V1;

namespace InputPipeline.Checkpointing.Gcs.Tests;

/// <summary>One request the store sent, as <see cref="RecordingHandler"/> saw it.</summary>
public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? ContentRange, string? Authorization, HttpStatusCode? Status, string? Error)
{
    public string PathAndQuery => Uri.PathAndQuery;

    public override string ToString() => $"{Method} {PathAndQuery} [{ContentRange}] -> {(Status is { } s ? ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture) : Error)}";
}

/// <summary>
/// Records every request and its outcome, then sends it on: installed as the innermost handler of a
/// <see cref="StorageClient"/>'s HTTP client (see <see cref="RecordingClientFactory"/>), so it sees each attempt and the
/// Authorization header the client library added.
/// </summary>
public sealed class RecordingHandler : DelegatingHandler
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public void Clear() => _requests.Clear();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string? range = request.Content?.Headers.ContentRange?.ToString();
        string? authorization = request.Headers.Authorization?.ToString();
        try
        {
            HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
            _requests.Enqueue(new RecordedRequest(request.Method, request.RequestUri!, range, authorization, response.StatusCode, null));
            return response;
        }
        catch (Exception ex)
        {
            _requests.Enqueue(new RecordedRequest(request.Method, request.RequestUri!, range, authorization, null, ex.GetType().Name));
            throw;
        }
    }
}

/// <summary>The client library's HTTP client factory, with a <see cref="RecordingHandler"/> between its handlers and the network.</summary>
public sealed class RecordingClientFactory(RecordingHandler recorder) : HttpClientFactory
{
    protected override HttpMessageHandler CreateHandler(CreateHttpClientArgs args)
    {
        recorder.InnerHandler = base.CreateHandler(args);
        return recorder;
    }
}

/// <summary>Builds <see cref="StorageClient"/>s for the emulator, as an application would register one.</summary>
public static class Clients
{
    /// <summary>A client of the emulator at <paramref name="root"/> whose requests go through <paramref name="recorder"/>; anonymous unless given a credential.</summary>
    public static StorageClient For(Uri root, RecordingHandler recorder, GoogleCredential? credential = null) => new StorageClientBuilder
    {
        BaseUri = new Uri(root, "storage/v1/").AbsoluteUri,
        UnauthenticatedAccess = credential is null,
        GoogleCredential = credential,
        HttpClientFactory = new RecordingClientFactory(recorder),
    }.Build();
}

/// <summary>
/// A fake OAuth token endpoint on 127.0.0.1 (an <see cref="HttpListener"/>): answers every POST with the given access
/// token and records the request bodies, so a service-account credential can be exercised without Google.
/// </summary>
public sealed class FakeTokenServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<string> _bodies = new();
    private readonly Task _loop;

    public FakeTokenServer(string accessToken)
    {
        int port = TestSupport.FreePort.Get();
        TokenUri = new Uri($"http://127.0.0.1:{port}/token");
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
                {
                    _bodies.Enqueue(await reader.ReadToEndAsync());
                }

                byte[] body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { access_token = accessToken, expires_in = 3600, token_type = "Bearer" }));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/json";
                context.Response.ContentLength64 = body.Length;
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        });
    }

    public Uri TokenUri { get; }

    public IReadOnlyList<string> RequestBodies => [.. _bodies];

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}

/// <summary>Writes service-account key files (with a fresh RSA key) for credential tests.</summary>
public static class ServiceAccountKeyFile
{
    /// <summary>Returns the key id and issuer of the JWT a bearer <paramref name="authorization"/> carries.</summary>
    public static (string? KeyId, string? Issuer) SignerOf(string? authorization)
    {
        Assert.NotNull(authorization);
        Assert.StartsWith("Bearer ", authorization, StringComparison.Ordinal);
        string[] parts = authorization["Bearer ".Length..].Split('.');
        Assert.Equal(3, parts.Length);
        using JsonDocument header = JsonDocument.Parse(Base64Url(parts[0]));
        using JsonDocument payload = JsonDocument.Parse(Base64Url(parts[1]));
        return (header.RootElement.GetProperty("kid").GetString(), payload.RootElement.GetProperty("iss").GetString());
    }

    private static byte[] Base64Url(string text)
    {
        string padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded.PadRight(padded.Length + ((4 - (padded.Length % 4)) % 4), '='));
    }

    /// <summary>Writes a service-account key file whose token endpoint is <paramref name="tokenUri"/>; returns its path.</summary>
    public static string Write(string path, Uri tokenUri)
    {
        using var rsa = RSA.Create(2048);
        string pem = rsa.ExportPkcs8PrivateKeyPem();
        var json = new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = "ipc-tests",
            ["private_key_id"] = "0123456789abcdef",
            ["private_key"] = pem,
            ["client_email"] = "ipc-tests@ipc-tests.iam.gserviceaccount.com",
            ["client_id"] = "1234567890",
            ["auth_uri"] = "https://accounts.google.com/o/oauth2/auth",
            ["token_uri"] = tokenUri.ToString(),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(json));
        return path;
    }
}

/// <summary>A checkpointable counter: its state is its position, 8 bytes.</summary>
public sealed class CountingState : ICheckpointable
{
    public long Position { get; set; }

    public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.CopyOf(BitConverter.GetBytes(Position));

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        byte[] bytes = new byte[8];
        await state.ReadExactlyAsync(bytes, cancellationToken);
        Position = BitConverter.ToInt64(bytes);
    }
}

/// <summary>A non-seekable stream of generated bytes that runs an action once a given number of bytes has been read.</summary>
public sealed class TriggerStream(long length, int seed, long triggerAfter, Func<Task> trigger) : Stream
{
    private readonly TestSupport.GeneratedStream _inner = new(length, seed, seekable: false);
    private bool _triggered;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Async only.");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await _inner.ReadAsync(buffer[..Math.Min(buffer.Length, 64 * 1024)], cancellationToken);
        if (!_triggered && _inner.BytesRead >= triggerAfter)
        {
            _triggered = true;
            await trigger();
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Finds the emulator's assembly and the dotnet host for the standalone-process test.</summary>
public static class EmulatorBinary
{
    public static string Dll()
    {
        string here = AppContext.BaseDirectory;
        string local = Path.Combine(here, "GcsEmulator.dll");
        if (File.Exists(local) && File.Exists(Path.Combine(here, "GcsEmulator.runtimeconfig.json")))
        {
            return local;
        }

        throw new FileNotFoundException($"GcsEmulator.dll with its runtimeconfig.json is not next to the test assembly in {here}; the project reference to tests/GcsEmulator copies them there.");
    }

    public static string DotnetHost()
    {
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        string? current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }
}

internal static class Bytes
{
    public static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    public static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    public static async Task<string> ReadTextAsync(IInputStateStore store, string key)
    {
        await using StoreReadResult? read = await store.ReadAsync(key);
        Assert.NotNull(read);
        return Encoding.UTF8.GetString(await ReadAllAsync(read.Content));
    }
}
