namespace InputPipeline.Checkpointing.Local.Internal;

/// <summary>
/// Chooses the modification times the store stamps on the files it writes; the time (with the length) is the
/// object's version, so a key's times must strictly increase even when writes come faster than the clock ticks
/// or the file system keeps coarse times.
/// </summary>
internal static class VersionClock
{
    // Granularities tried in turn when a file system truncates the time: 100 ns, 1 µs, 1 ms, 1 s, 2 s (FAT).
    private static readonly long[] Granularities = [1, 10, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerSecond, 2 * TimeSpan.TicksPerSecond];

    private static long s_lastIssued;

    /// <summary>
    /// Stamps <paramref name="path"/> with a modification time later than <paramref name="previousTicks"/> (the
    /// current version's time of the key, if any) and than any time this process issued before, and no earlier
    /// than now.
    /// </summary>
    /// <param name="path">The file to stamp (the temp file about to be moved into place).</param>
    /// <param name="previousTicks">The time of the object the write replaces, in UTC ticks, if any.</param>
    /// <returns>The time the file system actually stored.</returns>
    /// <exception cref="IOException">The file system cannot store a later time, or the file could not be stamped.</exception>
    public static DateTime Stamp(string path, long? previousTicks)
    {
        long floor = previousTicks is { } previous ? previous + 1 : 0;
        long candidate = Next(floor);
        foreach (long granularity in Granularities)
        {
            long rounded = (candidate + granularity - 1) / granularity * granularity;
            File.SetLastWriteTimeUtc(path, new DateTime(rounded, DateTimeKind.Utc));
            long actual = File.GetLastWriteTimeUtc(path).Ticks;
            if (actual >= floor)
            {
                Observe(actual);
                return new DateTime(actual, DateTimeKind.Utc);
            }
        }

        throw new IOException($"The file system of '{path}' does not keep modification times precisely enough to give the object a new version.");
    }

    private static long Next(long atLeast)
    {
        long now = DateTime.UtcNow.Ticks;
        while (true)
        {
            long last = Volatile.Read(ref s_lastIssued);
            long candidate = Math.Max(Math.Max(now, atLeast), last + 1);
            if (Interlocked.CompareExchange(ref s_lastIssued, candidate, last) == last)
            {
                return candidate;
            }
        }
    }

    private static void Observe(long ticks)
    {
        long last = Volatile.Read(ref s_lastIssued);
        while (ticks > last)
        {
            long seen = Interlocked.CompareExchange(ref s_lastIssued, ticks, last);
            if (seen == last)
            {
                return;
            }

            last = seen;
        }
    }
}
