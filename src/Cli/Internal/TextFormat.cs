using System.Globalization;
using System.Text;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>Plain-text formatting of the tool's output: sizes, times, durations and aligned tables.</summary>
internal static class TextFormat
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB"];

    /// <summary>Formats a byte count: <c>512 B</c>, <c>41.2 KiB</c>, <c>3.0 MiB</c>.</summary>
    public static string Size(long bytes)
    {
        if (bytes < 1024)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{bytes} B");
        }

        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {Units[unit]}");
    }

    /// <summary>Formats a time as UTC ISO 8601 to the second: <c>2025-06-01T12:00:03Z</c>.</summary>
    public static string Time(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Formats a duration compactly: <c>1h</c>, <c>90m</c>, <c>45s</c>, <c>1d2h</c>.</summary>
    public static string Duration(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return "0s";
        }

        var text = new StringBuilder();
        Append(text, duration.Days, "d");
        Append(text, duration.Hours, "h");
        Append(text, duration.Minutes, "m");
        Append(text, duration.Seconds, "s");
        Append(text, duration.Milliseconds, "ms");
        return text.ToString();

        static void Append(StringBuilder text, int value, string unit)
        {
            if (value > 0)
            {
                text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(unit);
            }
        }
    }

    /// <summary>Formats how old something is: <c>just now</c>, <c>42 s ago</c>, <c>12 min ago</c>, <c>3.5 h ago</c>, <c>2.0 d ago</c>.</summary>
    public static string Age(TimeSpan age) => age switch
    {
        { TotalSeconds: < 1 } => "just now",
        { TotalMinutes: < 2 } => string.Create(CultureInfo.InvariantCulture, $"{(long)age.TotalSeconds} s ago"),
        { TotalHours: < 2 } => string.Create(CultureInfo.InvariantCulture, $"{(long)age.TotalMinutes} min ago"),
        { TotalDays: < 2 } => string.Create(CultureInfo.InvariantCulture, $"{age.TotalHours:0.0} h ago"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{age.TotalDays:0.0} d ago"),
    };

    /// <summary>Returns <c>input  step   40</c>: the pipeline padded to <paramref name="chainWidth"/>, the step right-aligned to <paramref name="stepWidth"/>.</summary>
    public static string Label(string chain, int chainWidth, long step, int stepWidth) =>
        string.Create(CultureInfo.InvariantCulture, $"{chain.PadRight(chainWidth)}  step {step.ToString(CultureInfo.InvariantCulture).PadLeft(stepWidth)}");

    /// <summary>Returns the width of the widest of <paramref name="steps"/> printed.</summary>
    public static int StepWidth(IEnumerable<long> steps) =>
        steps.Select(s => s.ToString(CultureInfo.InvariantCulture).Length).DefaultIfEmpty(1).Max();

    /// <summary>Returns "1 part" / "3 parts".</summary>
    public static string Count(long count, string singular, string? plural = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {(count == 1 ? singular : plural ?? singular + "s")}");

    /// <summary>Writes rows as left-aligned columns separated by two spaces, each line prefixed by <paramref name="indent"/>.</summary>
    public static void Table(TextWriter output, string indent, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        List<IReadOnlyList<string>> all = [header, .. rows];
        int columns = header.Count;
        int[] widths = new int[columns];
        foreach (IReadOnlyList<string> row in all)
        {
            for (int i = 0; i < columns; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (IReadOnlyList<string> row in all)
        {
            var line = new StringBuilder(indent);
            for (int i = 0; i < columns; i++)
            {
                line.Append(i == columns - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            output.WriteLine(line.ToString().TrimEnd());
        }
    }
}
