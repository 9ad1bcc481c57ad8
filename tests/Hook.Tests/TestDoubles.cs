using System.Buffers.Binary;
using System.Collections.Concurrent;
using InputPipeline.Checkpointing.Hosting;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>
/// An input iterator whose whole state is its position. It yields <see cref="ValueAt"/> of each position, ends at
/// <see cref="Limit"/>, and refuses to be restored once it has yielded an element.
/// </summary>
public sealed class CountingIterator : ICheckpointableIterator<long>
{
    public CountingIterator(long limit = long.MaxValue, string name = "iterator")
    {
        Limit = limit;
        Name = name;
    }

    public string Name { get; }

    public long Limit { get; }

    /// <summary>Gets the position of the next element.</summary>
    public long Position { get; private set; }

    public long Current { get; private set; }

    /// <summary>Gets the number of elements yielded by this instance.</summary>
    public long Yielded { get; private set; }

    public int RestoreCount { get; private set; }

    public int CaptureCount { get; private set; }

    public bool IsDisposed { get; private set; }

    /// <summary>The element at a position: a deterministic, non-trivial function of it.</summary>
    public static long ValueAt(long position) => unchecked((position * 2654435761L) ^ (position << 7)) % 1_000_003;

    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Position >= Limit)
        {
            return ValueTask.FromResult(false);
        }

        Current = ValueAt(Position);
        Position++;
        Yielded++;
        return ValueTask.FromResult(true);
    }

    public ICheckpointSnapshot CaptureState()
    {
        CaptureCount++;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, Position);
        return CheckpointSnapshots.CopyOf(bytes);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (Yielded > 0)
        {
            throw new PipelineAlreadyStartedException(Name);
        }

        using var buffer = new MemoryStream();
        await state.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length != 8)
        {
            throw new CheckpointCorruptedException(Name, $"expected 8 bytes of state, got {buffer.Length}.");
        }

        Position = BinaryPrimitives.ReadInt64LittleEndian(buffer.GetBuffer().AsSpan(0, 8));
        RestoreCount++;
    }

    public ValueTask DisposeAsync()
    {
        IsDisposed = true;
        return ValueTask.CompletedTask;
    }

    /// <summary>Reads <paramref name="count"/> elements.</summary>
    public async Task<List<long>> TakeAsync(int count)
    {
        var values = new List<long>(count);
        for (int i = 0; i < count && await MoveNextAsync(); i++)
        {
            values.Add(Current);
        }

        return values;
    }
}

/// <summary>A checkpointable holding an opaque byte array of any size.</summary>
public sealed class BlobState : ICheckpointable
{
    public BlobState(byte[] data)
    {
        Data = data;
    }

    public BlobState(int size, int seed)
        : this(Generate(size, seed))
    {
    }

    public byte[] Data { get; set; }

    public int RestoreCount { get; private set; }

    public static byte[] Generate(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    public ICheckpointSnapshot CaptureState()
    {
        // The snapshot owns a copy, so later changes to Data do not reach it; it streams in 1 MiB writes.
        byte[] copy = Data.ToArray();
        return CheckpointSnapshots.FromWriter(
            async (destination, ct) =>
            {
                const int Chunk = 1024 * 1024;
                for (int offset = 0; offset < copy.Length; offset += Chunk)
                {
                    await destination.WriteAsync(copy.AsMemory(offset, Math.Min(Chunk, copy.Length - offset)), ct);
                }
            },
            copy.Length);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var buffer = new MemoryStream();
        await state.CopyToAsync(buffer, cancellationToken);
        Data = buffer.ToArray();
        RestoreCount++;
    }
}

/// <summary>A checkpointable whose snapshot throws while it is written.</summary>
public sealed class FailingSnapshotState : ICheckpointable
{
    public ICheckpointSnapshot CaptureState() =>
        CheckpointSnapshots.FromWriter((_, _) => throw new InvalidOperationException("snapshot exploded"), 10);

    public ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
}

/// <summary>A tiny model: an exponential moving average of its batches, plus the number of steps it trained.</summary>
public sealed class LinearModel : IEstimatorModel<long>
{
    public double Weight { get; private set; }

    public long TrainedSteps { get; private set; }

    /// <summary>Gets the (global step, batch) pairs this instance trained on, in order.</summary>
    public List<(long Step, long Batch)> Trained { get; } = [];

    public List<long> Evaluated { get; } = [];

    /// <summary>Gets or sets a global step at which <see cref="TrainStepAsync"/> throws, simulating a crash.</summary>
    public long? ThrowAtStep { get; set; }

    public int RestoreCount { get; private set; }

    public ValueTask TrainStepAsync(long batch, long globalStep, CancellationToken cancellationToken = default)
    {
        if (globalStep == ThrowAtStep)
        {
            throw new InvalidOperationException($"Simulated crash at step {globalStep}.");
        }

        Weight = (Weight * 0.75) + (batch * 0.25);
        TrainedSteps++;
        Trained.Add((globalStep, batch));
        return ValueTask.CompletedTask;
    }

    public async ValueTask<IReadOnlyDictionary<string, double>> EvaluateAsync(IAsyncEnumerable<long> batches, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        double sum = 0;
        await foreach (long batch in batches.WithCancellation(cancellationToken))
        {
            Evaluated.Add(batch);
            sum += batch;
        }

        return new Dictionary<string, double> { ["count"] = Evaluated.Count, ["sum"] = sum, ["weight"] = Weight };
    }

    public ICheckpointSnapshot CaptureState()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, Weight);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), TrainedSteps);
        return CheckpointSnapshots.FromBytes(bytes);
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var buffer = new MemoryStream();
        await state.CopyToAsync(buffer, cancellationToken);
        byte[] bytes = buffer.ToArray();
        if (bytes.Length != 16)
        {
            throw new CheckpointCorruptedException("model", $"expected 16 bytes, got {bytes.Length}.");
        }

        Weight = BinaryPrimitives.ReadDoubleLittleEndian(bytes);
        TrainedSteps = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        RestoreCount++;
    }
}

/// <summary>An <see cref="ITrainingSession"/> whose global step a test sets directly.</summary>
public sealed class FakeSession : ITrainingSession
{
    public long GlobalStep { get; set; }

    public CheckpointableCollection Iterators { get; } = new();
}

/// <summary>A hook that records every call, as "name.Method[@step]", into a shared log.</summary>
public sealed class RecordingHook : ISessionRunHook
{
    private readonly List<string> _log;

    public RecordingHook(string name, List<string> log)
    {
        Name = name;
        _log = log;
    }

    public string Name { get; }

    public long? RequestStopAfterStep { get; set; }

    public long? ThrowInAfterRunAtStep { get; set; }

    public List<DateTimeOffset> Timestamps { get; } = [];

    public ValueTask BeginAsync(CancellationToken cancellationToken = default)
    {
        _log.Add($"{Name}.Begin");
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default)
    {
        _log.Add($"{Name}.AfterCreateSession@{session.GlobalStep}");
        return ValueTask.CompletedTask;
    }

    public ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        _log.Add($"{Name}.BeforeRun@{context.GlobalStep}");
        Timestamps.Add(context.Timestamp);
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        _log.Add($"{Name}.AfterRun@{context.GlobalStep}");
        Timestamps.Add(context.Timestamp);
        if (context.GlobalStep == ThrowInAfterRunAtStep)
        {
            throw new InvalidOperationException($"{Name} failed at step {context.GlobalStep}");
        }

        if (context.GlobalStep >= RequestStopAfterStep)
        {
            context.RequestStop();
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default)
    {
        _log.Add($"{Name}.End@{session.GlobalStep}");
        return ValueTask.CompletedTask;
    }
}

/// <summary>A logger provider that keeps every entry, for asserting on logged warnings.</summary>
public sealed class ListLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

    public void Dispose()
    {
    }

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder => builder.AddProvider(this).SetMinimumLevel(LogLevel.Trace));

    public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

    private sealed class ListLogger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}

/// <summary>Helpers shared by the tests.</summary>
public static class Ckpt
{
    public const string StateFile = "checkpoint_input";

    public static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static KeyValuePair<string, ICheckpointable>[] Targets(params (string Name, ICheckpointable Item)[] items) =>
        [.. items.Select(i => new KeyValuePair<string, ICheckpointable>(i.Name, i.Item))];

    public static KeyValuePair<string, ICheckpointSnapshot>[] Capture(params (string Name, ICheckpointable Item)[] items) =>
        [.. items.Select(i => new KeyValuePair<string, ICheckpointSnapshot>(i.Name, i.Item.CaptureState()))];

    public static KeyValuePair<string, ICheckpointSnapshot>[] Bytes(params (string Name, byte[] Data)[] items) =>
        [.. items.Select(i => new KeyValuePair<string, ICheckpointSnapshot>(i.Name, CheckpointSnapshots.CopyOf(i.Data)))];

    public static CheckpointManager Manager(IInputStateStore store, int keepMax = 5, TimeProvider? time = null, string chain = "input", int collectionInterval = 10, TimeSpan? grace = null, ILoggerFactory? loggers = null) =>
        new(
            store,
            new CheckpointManagerOptions
            {
                Chain = chain,
                KeepMax = keepMax,
                OrphanCollectionInterval = collectionInterval,
                OrphanGracePeriod = grace ?? CheckpointManagerOptions.DefaultOrphanGracePeriod,
            },
            loggers?.CreateLogger<CheckpointManager>(),
            time);

    public static async Task<List<string>> ListKeysAsync(IInputStateStore store, string prefix = "")
    {
        var keys = new List<string>();
        await foreach (StoreObjectInfo info in store.ListAsync(prefix))
        {
            keys.Add(info.Key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    public static async Task<byte[]?> ReadAllAsync(IInputStateStore store, string key)
    {
        StoreReadResult? read = await store.ReadAsync(key);
        if (read is null)
        {
            return null;
        }

        await using (read)
        {
            using var buffer = new MemoryStream();
            await read.Content.CopyToAsync(buffer);
            return buffer.ToArray();
        }
    }

    public static async Task<CheckpointStateFile> ReadStateFileAsync(IInputStateStore store, string key = StateFile) =>
        CheckpointStateFile.Parse(await ReadAllAsync(store, key) ?? throw new InvalidOperationException($"{key} is missing"), key);

    public static async Task<CheckpointManifest> ReadManifestAsync(IInputStateStore store, string key) =>
        CheckpointManifest.Parse(await ReadAllAsync(store, key) ?? throw new InvalidOperationException($"{key} is missing"), key);

    /// <summary>Restores a fresh blob pair from the chain with a fresh manager and returns (step, a, b) or null.</summary>
    public static async Task<(long Step, byte[] A, byte[] B)?> RestoreBlobsAsync(IInputStateStore store, string chain = "input")
    {
        using CheckpointManager reader = Manager(store, chain: chain);
        var a = new BlobState([]);
        var b = new BlobState([]);
        CheckpointReference? restored = await reader.RestoreLatestAsync(Targets(("a", a), ("b", b)));
        return restored is null ? null : (restored.Step, a.Data, b.Data);
    }

    public static byte[] Text(string value) => System.Text.Encoding.UTF8.GetBytes(value);

    /// <summary>Sessions run with a <see cref="MonitoredTrainingSession"/> over one <see cref="CountingIterator"/>.</summary>
    public static async Task<long> RunAsync(TrainingSession session, CountingIterator iterator, IEnumerable<ISessionRunHook> hooks, long? lastStep, TimeProvider? time = null, Action? eachStep = null, List<long>? seen = null)
    {
        var monitored = new MonitoredTrainingSession(session, hooks, time);
        return await monitored.RunAsync(
            async (_, ct) =>
            {
                if (!await iterator.MoveNextAsync(ct))
                {
                    return false;
                }

                seen?.Add(iterator.Current);
                eachStep?.Invoke();
                return true;
            },
            lastStep);
    }
}
