using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>
/// <c>--watch</c>, <c>--interval</c> and <c>--count</c> of <c>ckpt list</c> and <c>ckpt show</c>: the command's output
/// redrawn in place on a terminal (Spectre.Console's live display), or appended with a header line per refresh when
/// redirected, until Ctrl+C (a clean end, exit 0), <c>--count</c> refreshes, or, redirected, until the reader of the
/// output has gone (a clean end too).
/// </summary>
internal sealed class Watcher
{
    /// <summary>The default time between two refreshes: 5 seconds.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(5);

    private Watcher(Option<bool> watch, Option<TimeSpan?> interval, Option<long?> count)
    {
        Watch = watch;
        Interval = interval;
        Count = count;
    }

    public Option<bool> Watch { get; }

    public Option<TimeSpan?> Interval { get; }

    public Option<long?> Count { get; }

    /// <summary>Adds <c>--watch</c>, <c>--interval</c> and <c>--count</c> to <paramref name="command"/>.</summary>
    public static Watcher AddTo(Command command, string what, Option<bool> json)
    {
        var watch = new Option<bool>("--watch", "-w")
        {
            Description = $"Refresh {what} every --interval, with each checkpoint's age, until Ctrl+C: to follow a running job. Redrawn in place on a terminal; one block per refresh when redirected.",
        };
        var interval = new Option<TimeSpan?>("--interval")
        {
            Description = "Time between two refreshes of --watch, for example 2s, 1m or 500ms (at least 100ms). Default: 5s.",
            HelpName = "duration",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
                if (DurationParser.TryParse(text, out TimeSpan duration) && duration >= TimeSpan.FromMilliseconds(100))
                {
                    return duration;
                }

                result.AddError($"--interval: \"{text}\" is not a duration of at least 100ms, such as 2s, 1m or 500ms.");
                return null;
            },
        };
        var count = new Option<long?>("--count")
        {
            Description = "With --watch: stop after this many refreshes. Default: until Ctrl+C.",
            HelpName = "N",
            CustomParser = result => Commands.CommonArguments.ParseInteger(result, "--count", minimum: 1),
        };
        command.Options.Add(watch);
        command.Options.Add(interval);
        command.Options.Add(count);
        command.Validators.Add(result =>
        {
            bool watching = result.GetValue(watch);
            if (!watching && (result.GetResult(interval) is not null || result.GetResult(count) is not null))
            {
                result.AddError("--interval and --count apply to --watch only.");
            }

            if (watching && result.GetValue(json))
            {
                result.AddError("--watch draws text; with --json, run the command once per poll instead.");
            }
        });
        return new Watcher(watch, interval, count);
    }

    /// <summary>
    /// Runs <paramref name="render"/> once, or, with <c>--watch</c>, every interval: it writes one refresh's output to the
    /// writer it is given, and gets the time the refresh is for (to show ages).
    /// </summary>
    public async Task<int> RunAsync(CliContext context, ParseResult result, Func<TextWriter, DateTimeOffset?, CancellationToken, Task<int>> render, CancellationToken cancellationToken)
    {
        if (!result.GetValue(Watch))
        {
            return await render(context.Out, null, cancellationToken).ConfigureAwait(false);
        }

        TimeSpan interval = result.GetValue(Interval) ?? DefaultInterval;
        long? count = result.GetValue(Count);
        TimeProvider time = context.Settings.TimeProvider;
        return context.Settings.ShowProgress
            ? await RunLiveAsync(context, interval, count, time, render, cancellationToken).ConfigureAwait(false)
            : await RunPlainAsync(context, interval, count, time, render, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> RunPlainAsync(CliContext context, TimeSpan interval, long? count, TimeProvider time, Func<TextWriter, DateTimeOffset?, CancellationToken, Task<int>> render, CancellationToken cancellationToken)
    {
        for (long refresh = 1; ; refresh++)
        {
            (int? exit, string text) = await RefreshAsync(context, refresh, interval, time, render, cancellationToken).ConfigureAwait(false);
            if (exit is { } code)
            {
                return code;
            }

            await context.Out.WriteAsync(text).ConfigureAwait(false);
            await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);

            // Nothing reads the output any more (`ckpt list --watch | head`): the watch ends cleanly, as on Ctrl+C.
            if (refresh == count || RedirectedOutput.IsReaderClosed(context.Out) || !await WaitAsync(interval, time, cancellationToken).ConfigureAwait(false))
            {
                return CliExitCodes.Success;
            }
        }
    }

    private static async Task<int> RunLiveAsync(CliContext context, TimeSpan interval, long? count, TimeProvider time, Func<TextWriter, DateTimeOffset?, CancellationToken, Task<int>> render, CancellationToken cancellationToken)
    {
        (int? exit, string first) = await RefreshAsync(context, 1, interval, time, render, cancellationToken).ConfigureAwait(false);
        if (exit is { } failed)
        {
            return failed;
        }

        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(context.Out) });
        int code = CliExitCodes.Success;
        await console.Live(new Text(first)).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(async live =>
        {
            for (long refresh = 2; refresh <= (count ?? long.MaxValue); refresh++)
            {
                if (!await WaitAsync(interval, time, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                (int? stop, string text) = await RefreshAsync(context, refresh, interval, time, render, cancellationToken).ConfigureAwait(false);
                if (stop is { } c)
                {
                    code = c;
                    return;
                }

                live.UpdateTarget(new Text(text));
                live.Refresh();
            }
        }).ConfigureAwait(false);
        return code;
    }

    /// <summary>
    /// Renders one refresh under a header line. A failure the tool expects (the store unreachable for a moment, a job
    /// that has not written its first checkpoint yet) becomes the refresh's content, and watching goes on; bad arguments
    /// and bugs end it. The returned exit code, when set, ends the watch.
    /// </summary>
    private static async Task<(int? Exit, string Text)> RefreshAsync(CliContext context, long refresh, TimeSpan interval, TimeProvider time, Func<TextWriter, DateTimeOffset?, CancellationToken, Task<int>> render, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        var text = new StringWriter(CultureInfo.InvariantCulture);
        await text.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"--- {TextFormat.Time(now)} · refresh {refresh} · every {TextFormat.Duration(interval)} · Ctrl+C to stop")).ConfigureAwait(false);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = await CliApp.ExecuteAsync(error, () => render(text, now, cancellationToken), cancellationToken).ConfigureAwait(false);
        switch (code)
        {
            case CliExitCodes.Interrupted:
                return (CliExitCodes.Success, string.Empty); // Ctrl+C during a refresh: the watch ends cleanly
            case CliExitCodes.BadArguments or CliExitCodes.UnexpectedError:
                await context.Err.WriteAsync(error.ToString()).ConfigureAwait(false);
                return (code, string.Empty);
            default:
                await text.WriteAsync(error.ToString()).ConfigureAwait(false);
                return (null, text.ToString());
        }
    }

    /// <summary>Waits <paramref name="interval"/>; returns <see langword="false"/> when cancelled (Ctrl+C), which ends the watch cleanly.</summary>
    private static async Task<bool> WaitAsync(TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
