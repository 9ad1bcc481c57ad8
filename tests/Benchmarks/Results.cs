using System.Globalization;
using System.Text;
using System.Text.Json;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>Which way a ratio has to go to meet its goal.</summary>
public enum GoalKind
{
    /// <summary>Only reported: no goal applies (for example the 1 MiB save, which is bound by round trips).</summary>
    Report,

    /// <summary>The ratio must be at most the limit (times, memory).</summary>
    AtMost,

    /// <summary>The ratio must be at least the limit (throughputs).</summary>
    AtLeast,
}

/// <summary>A goal on a ratio, such as "≤ 1.15".</summary>
/// <param name="Kind">Which way the ratio must go.</param>
/// <param name="Limit">The limit.</param>
public readonly record struct Goal(GoalKind Kind, double Limit)
{
    /// <summary>Gets a goal that is only reported.</summary>
    public static Goal ReportOnly => new(GoalKind.Report, 0);

    /// <summary>Creates a "ratio ≤ limit" goal.</summary>
    public static Goal AtMost(double limit) => new(GoalKind.AtMost, limit);

    /// <summary>Creates a "ratio ≥ limit" goal.</summary>
    public static Goal AtLeast(double limit) => new(GoalKind.AtLeast, limit);

    /// <summary>Gets whether <paramref name="ratio"/> meets the goal; <see langword="null"/> when there is no goal.</summary>
    public bool? IsMetBy(double ratio) => Kind switch
    {
        GoalKind.AtMost => ratio <= Limit,
        GoalKind.AtLeast => ratio >= Limit,
        _ => null,
    };

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        GoalKind.AtMost => "<= " + Limit.ToString("0.00", CultureInfo.InvariantCulture),
        GoalKind.AtLeast => ">= " + Limit.ToString("0.00", CultureInfo.InvariantCulture),
        _ => "report",
    };
}

/// <summary>One measured figure: ours against its baseline, measured side by side in the same run.</summary>
/// <param name="Name">What was measured.</param>
/// <param name="Ours">The SDK's figure.</param>
/// <param name="Baseline">The baseline's figure (a raw SDK call, a hand-written loop, a memcpy, or a budget).</param>
/// <param name="Unit">The unit of both figures.</param>
/// <param name="Goal">The goal on <see cref="Ratio"/>.</param>
/// <param name="Note">What the baseline is, or what else was observed.</param>
public sealed record BenchmarkResult(string Name, double Ours, double Baseline, string Unit, Goal Goal, string Note = "")
{
    /// <summary>Gets ours divided by the baseline.</summary>
    public double Ratio => Baseline == 0 ? double.NaN : Ours / Baseline;

    /// <summary>Gets whether the goal is met; <see langword="null"/> when the figure is only reported.</summary>
    public bool? Passed => Goal.IsMetBy(Ratio);
}

/// <summary>Prints results as a table and writes them as JSON.</summary>
public static class Report
{
    /// <summary>Formats the results as a Markdown table (it reads as plain text too, and goes into docs/BENCHMARKS.md as is).</summary>
    /// <param name="results">The results.</param>
    /// <returns>The table.</returns>
    public static string ToTable(IReadOnlyList<BenchmarkResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        string[] header = ["benchmark", "ours", "baseline", "unit", "ratio", "goal", "result"];
        var rows = new List<string[]> { header };
        foreach (BenchmarkResult r in results)
        {
            rows.Add(
            [
                r.Name,
                Format(r.Ours),
                Format(r.Baseline),
                r.Unit,
                r.Ratio.ToString("0.000", CultureInfo.InvariantCulture),
                r.Goal.ToString(),
                r.Passed switch { true => "pass", false => "MISS", null => "-" },
            ]);
        }

        int[] widths = [.. Enumerable.Range(0, header.Length).Select(c => rows.Max(row => row[c].Length))];
        var text = new StringBuilder();
        for (int i = 0; i < rows.Count; i++)
        {
            text.Append('|');
            for (int c = 0; c < header.Length; c++)
            {
                string cell = rows[i][c];
                bool numeric = c is 1 or 2 or 4;
                text.Append(' ').Append(numeric && i > 0 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c])).Append(" |");
            }

            text.AppendLine();
            if (i == 0)
            {
                text.Append('|');
                foreach (int width in widths)
                {
                    text.Append(new string('-', width + 2)).Append('|');
                }

                text.AppendLine();
            }
        }

        return text.ToString();
    }

    /// <summary>Writes the results as a JSON array of <c>{name, ours, baseline, unit, ratio, goal, passed, note}</c>.</summary>
    /// <param name="results">The results.</param>
    /// <param name="destination">The stream to write to.</param>
    public static void WriteJson(IReadOnlyList<BenchmarkResult> results, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(results);
        using var json = new Utf8JsonWriter(destination, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartArray();
        foreach (BenchmarkResult r in results)
        {
            json.WriteStartObject();
            json.WriteString("name", r.Name);
            WriteNumber(json, "ours", r.Ours);
            WriteNumber(json, "baseline", r.Baseline);
            json.WriteString("unit", r.Unit);
            WriteNumber(json, "ratio", r.Ratio);
            json.WriteString("goal", r.Goal.ToString());
            if (r.Passed is { } passed)
            {
                json.WriteBoolean("passed", passed);
            }
            else
            {
                json.WriteNull("passed");
            }

            json.WriteString("note", r.Note);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, Math.Round(value, 6));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static string Format(double value) => Math.Abs(value) switch
    {
        >= 10_000 => value.ToString("#,0", CultureInfo.InvariantCulture),
        >= 100 => value.ToString("0.0", CultureInfo.InvariantCulture),
        >= 1 => value.ToString("0.00", CultureInfo.InvariantCulture),
        _ => value.ToString("0.0000", CultureInfo.InvariantCulture),
    };
}
