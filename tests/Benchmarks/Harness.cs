using System.Diagnostics;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>How many times each I/O measurement runs.</summary>
/// <param name="Warmups">Unmeasured runs first (JIT, connection pools, the emulator's own warm-up).</param>
/// <param name="Runs">Measured runs; the median is reported.</param>
public readonly record struct RunCounts(int Warmups, int Runs);

/// <summary>
/// The Stopwatch harness for I/O benchmarks: warm-up runs, then measured runs of ours and the baseline interleaved
/// (alternating which goes first, so a slow drift of the machine or an emulator affects both alike), median of each.
/// </summary>
public static class Harness
{
    /// <summary>Measures <paramref name="ours"/> and <paramref name="baseline"/> side by side.</summary>
    /// <param name="counts">Warm-ups and measured runs.</param>
    /// <param name="ours">One run of the SDK's operation; gets the run index (warm-ups are negative).</param>
    /// <param name="baseline">One run of the baseline; gets the run index.</param>
    /// <param name="cancellationToken">Cancels between runs.</param>
    /// <returns>The median durations of ours and the baseline.</returns>
    public static async Task<(TimeSpan Ours, TimeSpan Baseline)> MeasurePairAsync(
        RunCounts counts, Func<int, Task> ours, Func<int, Task> baseline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ours);
        ArgumentNullException.ThrowIfNull(baseline);
        for (int i = -counts.Warmups; i < 0; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await baseline(i);
            await ours(i);
        }

        var oursTimes = new List<TimeSpan>(counts.Runs);
        var baselineTimes = new List<TimeSpan>(counts.Runs);
        for (int i = 0; i < counts.Runs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Settle();
            if (i % 2 == 0)
            {
                baselineTimes.Add(await TimeAsync(baseline, i));
                Settle();
                oursTimes.Add(await TimeAsync(ours, i));
            }
            else
            {
                oursTimes.Add(await TimeAsync(ours, i));
                Settle();
                baselineTimes.Add(await TimeAsync(baseline, i));
            }
        }

        return (Median(oursTimes), Median(baselineTimes));
    }

    /// <summary>Measures one operation: warm-ups, then the median of the measured runs.</summary>
    /// <param name="counts">Warm-ups and measured runs.</param>
    /// <param name="operation">One run; gets the run index (warm-ups are negative).</param>
    /// <returns>The median duration.</returns>
    public static async Task<TimeSpan> MeasureAsync(RunCounts counts, Func<int, Task> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        for (int i = -counts.Warmups; i < 0; i++)
        {
            await operation(i);
        }

        var times = new List<TimeSpan>(counts.Runs);
        for (int i = 0; i < counts.Runs; i++)
        {
            Settle();
            times.Add(await TimeAsync(operation, i));
        }

        return Median(times);
    }

    /// <summary>Returns the median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    /// <param name="values">At least one value.</param>
    /// <returns>The median.</returns>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public static TimeSpan Median(IReadOnlyCollection<TimeSpan> values) =>
        TimeSpan.FromTicks((long)Median(values.Select(v => (double)v.Ticks).ToList()));

    /// <inheritdoc cref="Median(IReadOnlyCollection{TimeSpan})"/>
    public static double Median(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("A median needs at least one value.", nameof(values));
        }

        double[] sorted = [.. values.Order()];
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>Collects garbage left by the previous run so it is not charged to the next one.</summary>
    public static void Settle()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    private static async Task<TimeSpan> TimeAsync(Func<int, Task> operation, int index)
    {
        long start = Stopwatch.GetTimestamp();
        await operation(index);
        return Stopwatch.GetElapsedTime(start);
    }
}
