using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.AzureBlob.Tests;

/// <summary>
/// A fake Blob endpoint on 127.0.0.1 that answers every request from a script of statuses and error codes, counting
/// requests: a server that is up but failing (503 Server Busy) without touching the emulator.
/// </summary>
public sealed class FakeBlobServer : IDisposable
{
    private readonly ScriptedHttpServer _server;

    /// <param name="answer">The status and error code of the n-th request (1-based).</param>
    public FakeBlobServer(Func<int, HttpListenerRequest, (int Status, string ErrorCode)> answer)
    {
        _server = new ScriptedHttpServer((n, request) =>
        {
            (int status, string code) = answer(n, request);
            return new ScriptedResponse(
                status,
                "application/xml",
                Encoding.UTF8.GetBytes($"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>fake</Message></Error>"),
                new Dictionary<string, string> { ["x-ms-error-code"] = code, ["x-ms-request-id"] = Guid.NewGuid().ToString() });
        });
    }

    public int Port => _server.Port;

    /// <summary>Gets the number of requests answered.</summary>
    public int Requests => _server.Requests;

    /// <summary>Gets the methods and paths requested, in order.</summary>
    public ConcurrentQueue<string> Log => _server.Log;

    public string ConnectionString => AzuriteInstance.ConnectionStringFor(Port);

    public void Dispose() => _server.Dispose();
}

/// <summary>Records every request an Azure SDK client sends: method, URI and headers.</summary>
public sealed class RecordingPolicy : HttpPipelineSynchronousPolicy
{
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public override void OnSendingRequest(HttpMessage message)
    {
        var headers = message.Request.Headers.ToDictionary(h => h.Name, h => h.Value, StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue(new RecordedRequest(message.Request.Method.Method, message.Request.Uri.ToUri(), headers));
    }
}

/// <summary>One request a <see cref="RecordingPolicy"/> saw.</summary>
public sealed record RecordedRequest(string Method, Uri Uri, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>Gets the value of the <c>comp</c> query parameter (<c>block</c>, <c>blocklist</c>, <c>list</c>…), or empty.</summary>
    public string Comp => System.Web.HttpUtility.ParseQueryString(Uri.Query)["comp"] ?? string.Empty;
}

/// <summary>A checkpointable counter: the state of a trivial input pipeline.</summary>
public sealed class CounterIterator : ICheckpointable
{
    public long Position { get; private set; }

    public void Next() => Position++;

    public ICheckpointSnapshot CaptureState() => CheckpointSnapshots.CopyOf(BitConverter.GetBytes(Position));

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        var bytes = new byte[8];
        await state.ReadExactlyAsync(bytes, cancellationToken);
        Position = BitConverter.ToInt64(bytes);
    }
}

/// <summary>Collects log entries (event id, level, message), for assertions on what the store logs.</summary>
public sealed class ListLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(ListLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
    }
}

/// <summary>
/// A non-seekable content stream that stops at <c>gateAt</c> bytes until the test opens the gate: a slow producer,
/// so that another writer can commit while this upload has blocks staged.
/// </summary>
public sealed class GatedStream(long length, long gateAt, int seed) : Stream
{
    private readonly GeneratedStream _inner = new(length, seed, seekable: false);
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets a task that completes when the reader has reached the gate.</summary>
    public Task Reached => _reached.Task;

    public void Open() => _open.TrySetResult();

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_inner.BytesRead >= gateAt)
        {
            _reached.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
        }

        long before = gateAt - _inner.BytesRead;
        int count = before > 0 ? (int)Math.Min(buffer.Length, before) : buffer.Length;
        return _inner.Read(buffer.Span[..count]);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
