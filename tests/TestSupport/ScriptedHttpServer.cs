using System.Collections.Concurrent;
using System.Net;

namespace InputPipeline.Checkpointing.TestSupport;

/// <summary>One answer of a <see cref="ScriptedHttpServer"/>.</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="ContentType">The content type of <paramref name="Body"/>.</param>
/// <param name="Body">The body; not sent for HEAD requests.</param>
/// <param name="Headers">Extra response headers, or <see langword="null"/>.</param>
public sealed record ScriptedResponse(int Status, string ContentType, byte[] Body, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>
/// A fake HTTP endpoint on 127.0.0.1 that answers each request from a script (a function of the 1-based request number
/// and the request), after draining the request body so the client sees the answer rather than a reset connection.
/// It counts and logs requests: a server that is up but failing (503, 403…), without touching an emulator.
/// </summary>
public sealed class ScriptedHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<int, HttpListenerRequest, ScriptedResponse> _answer;
    private readonly Task _loop;
    private int _requests;

    /// <summary>Starts the server on a free port.</summary>
    /// <param name="answer">The answer to the n-th request (1-based).</param>
    public ScriptedHttpServer(Func<int, HttpListenerRequest, ScriptedResponse> answer)
    {
        _answer = answer;
        for (int attempt = 1; ; attempt++)
        {
            int port = FreePort.Get();
            try
            {
                _listener.Prefixes.Clear();
                _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                _listener.Start();
                Port = port;
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // The port was taken meanwhile: try another.
            }
        }

        _loop = Task.Run(ServeAsync);
    }

    /// <summary>Gets the port.</summary>
    public int Port { get; }

    /// <summary>Gets the base URI, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri Endpoint => new($"http://127.0.0.1:{Port}/");

    /// <summary>Gets the number of requests answered.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Gets the methods and paths requested, in order.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <inheritdoc/>
    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under the loop.
        }
    }

    private async Task ServeAsync()
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

            int n = Interlocked.Increment(ref _requests);
            Log.Enqueue($"{context.Request.HttpMethod} {context.Request.Url?.PathAndQuery}");
            try
            {
                await context.Request.InputStream.CopyToAsync(Stream.Null);
                ScriptedResponse answer = _answer(n, context.Request);
                context.Response.StatusCode = answer.Status;
                context.Response.ContentType = answer.ContentType;
                foreach (KeyValuePair<string, string> header in answer.Headers ?? new Dictionary<string, string>())
                {
                    context.Response.Headers[header.Key] = header.Value;
                }

                if (context.Request.HttpMethod != "HEAD")
                {
                    context.Response.ContentLength64 = answer.Body.Length;
                    await context.Response.OutputStream.WriteAsync(answer.Body);
                }

                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client gave up on this request.
            }
        }
    }
}
