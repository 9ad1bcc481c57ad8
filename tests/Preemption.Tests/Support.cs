using System.Buffers.Binary;
using System.Collections.Concurrent;
using InputPipeline.Checkpointing.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Preemption.Tests;

/// <summary>Waits for conditions with a generous timeout (never asserts on elapsed time).</summary>
public static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? Timeout);
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }
}

/// <summary>One log entry a test captured.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

/// <summary>Captures every log entry, at every level.</summary>
public sealed class LogCollector : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public IReadOnlyList<LogEntry> WithId(int eventId) => [.. Entries.Where(e => e.EventId.Id == eventId)];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}

/// <summary>A generic host with <c>AddInputPipelineCheckpointing(configuration).AddPreemptionHandling()</c>, configured from key/value pairs.</summary>
public sealed class PreemptionTestHost : IAsyncDisposable
{
    private PreemptionTestHost(IHost host, LogCollector logs)
    {
        Host = host;
        Logs = logs;
    }

    public IHost Host { get; }

    public LogCollector Logs { get; }

    public PreemptionMonitor Monitor => Host.Services.GetRequiredService<PreemptionMonitor>();

    public static HostApplicationBuilder CreateBuilder(IEnumerable<KeyValuePair<string, string?>> settings, LogCollector logs)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase) { ["InputPipelineCheckpointing:SaveSteps"] = "10" };
        foreach (KeyValuePair<string, string?> setting in settings)
        {
            values[setting.Key] = setting.Value; // the last one wins
        }

        builder.Configuration.AddInMemoryCollection(values);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddProvider(logs);
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration).AddPreemptionHandling();
        return builder;
    }

    public static async Task<PreemptionTestHost> StartAsync(params (string Key, string? Value)[] settings)
    {
        var logs = new LogCollector();
        IHost host = CreateBuilder(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)), logs).Build();
        await host.StartAsync();
        return new PreemptionTestHost(host, logs);
    }

    /// <summary>The settings that enable one source against a fake, with short intervals.</summary>
    public static (string, string?)[] Source(string cloud, Uri endpoint, params (string Key, string? Value)[] more) =>
    [
        ($"InputPipelineCheckpointing:Preemption:{cloud}:Enabled", "true"),
        ($"InputPipelineCheckpointing:Preemption:{cloud}:Endpoint", endpoint.ToString()),
        ($"InputPipelineCheckpointing:Preemption:{cloud}:PollInterval", "00:00:00.050"),
        ($"InputPipelineCheckpointing:Preemption:{cloud}:RequestTimeout", "00:00:30"),
        .. more,
    ];

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync(TimeSpan.FromSeconds(10));
        Host.Dispose();
    }
}

/// <summary>An input iterator whose whole state is its position; it yields <see cref="ValueAt"/> of each position.</summary>
public sealed class CountingIterator : ICheckpointableIterator<long>
{
    public long Position { get; private set; }

    public long Current { get; private set; }

    public long Yielded { get; private set; }

    public static long ValueAt(long position) => unchecked((position * 2654435761L) ^ (position << 7)) % 1_000_003;

    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        Current = ValueAt(Position);
        Position++;
        Yielded++;
        return ValueTask.FromResult(true);
    }

    public ICheckpointSnapshot CaptureState()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, Position);
        return CheckpointSnapshots.FromBytes(bytes);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        if (Yielded > 0)
        {
            throw new PipelineAlreadyStartedException("iterator");
        }

        using var buffer = new MemoryStream();
        await state.CopyToAsync(buffer, cancellationToken);
        Position = BinaryPrimitives.ReadInt64LittleEndian(buffer.ToArray());
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A model that records the (global step, batch) pairs it trained on; <see cref="OnStep"/> runs inside each step.</summary>
public sealed class RecordingModel : IEstimatorModel<long>
{
    public List<(long Step, long Batch)> Trained { get; } = [];

    public Func<long, Task>? OnStep { get; set; }

    public async ValueTask TrainStepAsync(long batch, long globalStep, CancellationToken cancellationToken = default)
    {
        if (OnStep is { } onStep)
        {
            await onStep(globalStep);
        }

        Trained.Add((globalStep, batch));
    }

    public ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<long> batches, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyDictionary<string, double>>(new Dictionary<string, double>());

    public ICheckpointSnapshot CaptureState()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, Trained.Count);
        return CheckpointSnapshots.FromBytes(bytes);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await state.CopyToAsync(buffer, cancellationToken);
    }
}

/// <summary>A hook that runs callbacks at its <c>EndAsync</c>, to observe what the hooks before it did.</summary>
public sealed class ProbeHook(Func<ITrainingSession, ValueTask> onEnd) : SessionRunHook
{
    public override ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default) => onEnd(session);
}
