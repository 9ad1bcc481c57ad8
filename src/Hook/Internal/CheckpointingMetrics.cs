using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>
/// The instruments of one <see cref="Meter"/> named <see cref="CheckpointingTelemetry.MeterName"/>, and the activity
/// source. Every recording method checks <see cref="Instrument.Enabled"/> before it builds a tag, so an instrument no
/// listener subscribed to costs a field read.
/// </summary>
internal sealed class CheckpointingMetrics
{
    private static readonly string? s_version = typeof(CheckpointingMetrics).Assembly.GetName().Version?.ToString();
    private static readonly ConditionalWeakTable<Meter, CheckpointingMetrics> s_byMeter = new();

    private readonly Histogram<double> _saveDuration;
    private readonly Histogram<double> _restoreDuration;
    private readonly Histogram<double> _stallDuration;
    private readonly Counter<long> _bytesWritten;
    private readonly Counter<long> _bytesRead;
    private readonly Counter<long> _commits;
    private readonly Counter<long> _saveFailures;
    private readonly Counter<long> _fallbacks;

    // The latest committed checkpoint each live manager knows of, for the age gauge. Weak keys: a manager that is never
    // disposed does not stay alive (or measured) because of this table.
    private readonly ConditionalWeakTable<object, LatestCheckpoint> _latest = new();

    private CheckpointingMetrics(Meter meter)
    {
        _saveDuration = meter.CreateHistogram<double>(
            CheckpointingInstrumentNames.SaveDuration,
            unit: "s",
            description: "The time one input-pipeline checkpoint save took, from its first write to its commit.");
        _restoreDuration = meter.CreateHistogram<double>(
            CheckpointingInstrumentNames.RestoreDuration,
            unit: "s",
            description: "The time one input-pipeline checkpoint restore took, fallbacks included.");
        _stallDuration = meter.CreateHistogram<double>(
            CheckpointingInstrumentNames.StallDuration,
            unit: "s",
            description: "Per checkpoint, the time the training loop was blocked in the hook (capture and waiting for a save).");
        _bytesWritten = meter.CreateCounter<long>(
            CheckpointingInstrumentNames.BytesWritten,
            unit: "By",
            description: "The bytes of checkpoint parts written to the store.");
        _bytesRead = meter.CreateCounter<long>(
            CheckpointingInstrumentNames.BytesRead,
            unit: "By",
            description: "The bytes of checkpoint parts read from the store by restores and verifications.");
        _commits = meter.CreateCounter<long>(
            CheckpointingInstrumentNames.Commits,
            unit: "{commit}",
            description: "The input-pipeline checkpoints committed.");
        _saveFailures = meter.CreateCounter<long>(
            CheckpointingInstrumentNames.SaveFailures,
            unit: "{save}",
            description: "The input-pipeline checkpoint saves that failed.");
        _fallbacks = meter.CreateCounter<long>(
            CheckpointingInstrumentNames.RestoreFallbacks,
            unit: "{fallback}",
            description: "The times a restore fell back from a damaged checkpoint to an older one.");
        meter.CreateObservableGauge(
            CheckpointingInstrumentNames.Age,
            ObserveAges,
            unit: "s",
            description: "The age of the latest committed input-pipeline checkpoint of each chain.");
    }

    /// <summary>Gets the activity source (process-wide, as activity sources have no factory).</summary>
    public static ActivitySource ActivitySource { get; } = new(CheckpointingTelemetry.ActivitySourceName, s_version);

    /// <summary>Gets the instruments of the process-wide meter, used when no <see cref="IMeterFactory"/> is given.</summary>
    public static CheckpointingMetrics Shared { get; } = new(new Meter(CheckpointingTelemetry.MeterName, s_version));

    /// <summary>Returns the instruments of the meter <paramref name="meterFactory"/> creates, or <see cref="Shared"/>.</summary>
    public static CheckpointingMetrics For(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            return Shared;
        }

        // A factory returns the same meter for the same options, so its instruments are created once.
        Meter meter = meterFactory.Create(new MeterOptions(CheckpointingTelemetry.MeterName) { Version = s_version });
        return s_byMeter.GetValue(meter, static m => new CheckpointingMetrics(m));
    }

    public static Activity? StartActivity(string name, string chain, string provider)
    {
        Activity? activity = ActivitySource.StartActivity(name, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(CheckpointingTagNames.Chain, chain);
            activity.SetTag(CheckpointingTagNames.Provider, provider);
        }

        return activity;
    }

    public static void SetOutcome(Activity? activity, string outcome)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(CheckpointingTagNames.Outcome, outcome);
        }
    }

    public static void SetFailure(Activity? activity, Exception exception, bool cancelled)
    {
        if (activity is null)
        {
            return;
        }

        if (cancelled)
        {
            SetOutcome(activity, CheckpointingTagValues.Cancelled);
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(CheckpointingTagNames.Outcome, CheckpointingTagValues.Failure);
            activity.SetTag(CheckpointingTagNames.ErrorType, ErrorType(exception));
            activity.AddException(exception);
        }
    }

    public static string ErrorType(Exception exception) => exception.GetType().FullName ?? exception.GetType().Name;

    public void RecordSave(TimeSpan elapsed, string chain, string provider, Exception? failure, bool cancelled)
    {
        if (_saveDuration.Enabled)
        {
            TagList tags = Tags(chain, provider);
            tags.Add(CheckpointingTagNames.Outcome, failure is null ? CheckpointingTagValues.Success : cancelled ? CheckpointingTagValues.Cancelled : CheckpointingTagValues.Failure);
            if (failure is not null && !cancelled)
            {
                tags.Add(CheckpointingTagNames.ErrorType, ErrorType(failure));
            }

            _saveDuration.Record(elapsed.TotalSeconds, tags);
        }

        if (failure is not null && !cancelled && _saveFailures.Enabled)
        {
            TagList tags = Tags(chain, provider);
            tags.Add(CheckpointingTagNames.ErrorType, ErrorType(failure));
            _saveFailures.Add(1, tags);
        }
    }

    public void RecordRestore(TimeSpan elapsed, string chain, string provider, string outcome, Exception? failure)
    {
        if (_restoreDuration.Enabled)
        {
            TagList tags = Tags(chain, provider);
            tags.Add(CheckpointingTagNames.Outcome, outcome);
            if (failure is not null && outcome == CheckpointingTagValues.Failure)
            {
                tags.Add(CheckpointingTagNames.ErrorType, ErrorType(failure));
            }

            _restoreDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public void RecordStall(TimeSpan elapsed, string chain, string provider, string trigger)
    {
        if (_stallDuration.Enabled)
        {
            TagList tags = Tags(chain, provider);
            tags.Add(CheckpointingTagNames.Trigger, trigger);
            _stallDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public void AddBytesWritten(long bytes, string chain, string provider)
    {
        if (_bytesWritten.Enabled)
        {
            _bytesWritten.Add(bytes, Tags(chain, provider));
        }
    }

    public void AddBytesRead(long bytes, string chain, string provider)
    {
        if (_bytesRead.Enabled)
        {
            _bytesRead.Add(bytes, Tags(chain, provider));
        }
    }

    public void AddCommit(string chain, string provider)
    {
        if (_commits.Enabled)
        {
            _commits.Add(1, Tags(chain, provider));
        }
    }

    public void AddFallback(string chain, string provider)
    {
        if (_fallbacks.Enabled)
        {
            _fallbacks.Add(1, Tags(chain, provider));
        }
    }

    /// <summary>Records the latest committed checkpoint <paramref name="owner"/> knows of, for the age gauge.</summary>
    public void TrackLatest(object owner, string chain, string provider, TimeProvider time, DateTimeOffset createdAt)
    {
        if (!_latest.TryGetValue(owner, out LatestCheckpoint? latest))
        {
            latest = new LatestCheckpoint(chain, provider, time);
            _latest.AddOrUpdate(owner, latest);
        }

        Volatile.Write(ref latest.CreatedAtUtcTicks, createdAt.UtcTicks);
    }

    /// <summary>Stops reporting the age of what <paramref name="owner"/> knows of (disposed, or ownership lost).</summary>
    public void ForgetLatest(object owner) => _latest.Remove(owner);

    private static TagList Tags(string chain, string provider) => new()
    {
        { CheckpointingTagNames.Chain, chain },
        { CheckpointingTagNames.Provider, provider },
    };

    private IEnumerable<Measurement<double>> ObserveAges()
    {
        // Several managers of one chain (say, a writer and a short-lived reader) report once: the youngest checkpoint.
        var youngest = new Dictionary<(string Chain, string Provider), double>();
        foreach (KeyValuePair<object, LatestCheckpoint> entry in _latest)
        {
            LatestCheckpoint latest = entry.Value;
            long ticks = Volatile.Read(ref latest.CreatedAtUtcTicks);
            if (ticks == 0)
            {
                continue;
            }

            double age = Math.Max(0, (latest.Time.GetUtcNow().UtcTicks - ticks) / (double)TimeSpan.TicksPerSecond);
            (string, string) key = (latest.Chain, latest.Provider);
            if (!youngest.TryGetValue(key, out double known) || age < known)
            {
                youngest[key] = age;
            }
        }

        var measurements = new List<Measurement<double>>(youngest.Count);
        foreach (KeyValuePair<(string Chain, string Provider), double> pair in youngest)
        {
            measurements.Add(new Measurement<double>(pair.Value, Tags(pair.Key.Chain, pair.Key.Provider)));
        }

        return measurements;
    }

    private sealed class LatestCheckpoint(string chain, string provider, TimeProvider time)
    {
        public long CreatedAtUtcTicks;

        public string Chain { get; } = chain;

        public string Provider { get; } = provider;

        public TimeProvider Time { get; } = time;
    }
}
