using System.Globalization;
using System.Text.RegularExpressions;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>Parses durations such as <c>1h</c>, <c>90m</c>, <c>1h30m</c>, <c>45s</c>, <c>2d</c>, <c>500ms</c>, <c>0</c> or <c>01:00:00</c>.</summary>
internal static partial class DurationParser
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text == "0")
        {
            return true;
        }

        Match match = UnitsPattern().Match(text);
        if (match.Success)
        {
            try
            {
                foreach (Capture capture in match.Groups["part"].Captures)
                {
                    Match part = PartPattern().Match(capture.Value);
                    long value = long.Parse(part.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture);
                    duration += part.Groups[2].Value.ToLowerInvariant() switch
                    {
                        "d" => TimeSpan.FromDays(value),
                        "h" => TimeSpan.FromHours(value),
                        "m" => TimeSpan.FromMinutes(value),
                        "s" => TimeSpan.FromSeconds(value),
                        _ => TimeSpan.FromMilliseconds(value),
                    };
                }

                return true;
            }
            catch (Exception ex) when (ex is OverflowException or ArgumentOutOfRangeException)
            {
                return false;
            }
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration >= TimeSpan.Zero;
    }

    [GeneratedRegex("^(?<part>[0-9]{1,9}(?:ms|d|h|m|s))+$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex UnitsPattern();

    [GeneratedRegex("^([0-9]+)(ms|d|h|m|s)$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex PartPattern();
}
