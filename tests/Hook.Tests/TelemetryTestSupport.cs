using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace InputPipeline.Checkpointing.Tests;

/// <summary>A meter factory of its own, so a test observes only the meters (and measurements) of the code it built.</summary>
public sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_meters)
        {
            Meter? existing = _meters.Find(m => m.Name == options.Name && m.Version == options.Version);
            if (existing is not null)
            {
                return existing;
            }

            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }
    }

    public void Dispose()
    {
        lock (_meters)
        {
            foreach (Meter meter in _meters)
            {
                meter.Dispose();
            }

            _meters.Clear();
        }
    }
}

/// <summary>One measurement: instrument, value and tags.</summary>
public sealed record RecordedMeasurement(string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public string? Tag(string key) => Tags.TryGetValue(key, out object? value) ? value?.ToString() : null;
}

/// <summary>
/// Listens, with a <see cref="MeterListener"/>, to the instruments of the <see cref="CheckpointingTelemetry.MeterName"/>
/// meter created by one <see cref="IMeterFactory"/> (its scope), and keeps every measurement.
/// </summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<RecordedMeasurement> _measurements = new();

    public MetricRecorder(object meterScope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CheckpointingTelemetry.MeterName && ReferenceEquals(instrument.Meter.Scope, meterScope))
            {
                listener.EnableMeasurementEvents(instrument);
                Instruments.Add(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    public ConcurrentBag<Instrument> Instruments { get; } = [];

    public IReadOnlyList<RecordedMeasurement> All => [.. _measurements];

    public IReadOnlyList<RecordedMeasurement> Of(string instrument) => [.. _measurements.Where(m => m.Instrument == instrument)];

    public double Sum(string instrument) => Of(instrument).Sum(m => m.Value);

    /// <summary>Collects the observable instruments (the age gauge) now and returns what they reported.</summary>
    public IReadOnlyList<RecordedMeasurement> Observe(string instrument)
    {
        int before = _measurements.Count;
        _listener.RecordObservableInstruments();
        return [.. _measurements.Skip(before).Where(m => m.Instrument == instrument)];
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue(new RecordedMeasurement(instrument.Name, instrument.Unit, value, copy));
    }
}

/// <summary>
/// Records the activities of the <see cref="CheckpointingTelemetry.ActivitySourceName"/> source that belong to this
/// test: those in the trace of a root activity it starts (and makes current), so parallel tests do not mix.
/// </summary>
public sealed class ActivityRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly Activity _root;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public ActivityRecorder()
    {
        _root = new Activity("test-root").SetIdFormat(ActivityIdFormat.W3C).Start();
        ActivityTraceId trace = _root.TraceId;
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CheckpointingTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.TraceId == trace)
                {
                    _stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Stopped => [.. _stopped];

    public IReadOnlyList<Activity> Named(string name) => [.. _stopped.Where(a => a.OperationName == name)];

    public void Dispose()
    {
        _root.Stop();
        _listener.Dispose();
    }
}

/// <summary>A store wrapper that advances a fake clock by a fixed amount on every write, so durations are exact.</summary>
public sealed class ClockAdvancingStore(IInputStateStore inner, Microsoft.Extensions.Time.Testing.FakeTimeProvider time, TimeSpan perWrite) : IInputStateStore
{
    public string ProviderName => inner.ProviderName;

    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        StoreVersion version = await inner.WriteAsync(key, content, condition, cancellationToken);
        time.Advance(perWrite);
        return version;
    }

    public Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default) => inner.ReadAsync(key, offset, cancellationToken);

    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, ifVersion, cancellationToken);
}

/// <summary>A checkpointable whose capture takes a fixed time on a fake clock, so stall times are exact.</summary>
public sealed class SlowCaptureIterator(CountingIterator inner, Microsoft.Extensions.Time.Testing.FakeTimeProvider time, TimeSpan captureTime) : ICheckpointable
{
    public ICheckpointSnapshot CaptureState()
    {
        time.Advance(captureTime);
        return inner.CaptureState();
    }

    public ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default) => inner.RestoreStateAsync(state, cancellationToken);
}
