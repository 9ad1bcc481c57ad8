using Spectre.Console;

namespace InputPipeline.Checkpointing.Samples.Internal;

/// <summary>
/// A job's standard error: log lines, and the progress display (a live status line drawn by Spectre.Console, or plain
/// progress lines). While the live line is shown, log lines go through the same Spectre console, which prints them
/// above the line and redraws it; plain lines and log lines share one lock, so no two interleave.
/// </summary>
internal sealed class JobConsole : IAsyncDisposable
{
    /// <summary>How often the live line is redrawn, and how often plain mode checks for a line to write.</summary>
    internal static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private readonly Lock _gate = new();
    private readonly TextWriter _error;
    private readonly IAnsiConsole _ansi;
    private readonly bool _errorIsTerminal;
    private readonly TimeProvider _time;
    private CancellationTokenSource? _stop;
    private Task? _display;
    private bool _live;

    public JobConsole(TextWriter error, IAnsiConsole ansi, bool errorIsTerminal, TimeProvider time)
    {
        _error = error;
        _ansi = ansi;
        _errorIsTerminal = errorIsTerminal;
        _time = time;
    }

    /// <summary>Creates the console of the current process: standard error, as Spectre.Console detects it.</summary>
    public static JobConsole ForProcess() =>
        new(
            Console.Error,
            AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }),
            !Console.IsErrorRedirected,
            TimeProvider.System);

    /// <summary>Gets the mode <paramref name="requested"/> comes to here.</summary>
    public ProgressMode Resolve(ProgressMode requested) => requested switch
    {
        ProgressMode.Auto => _errorIsTerminal && _ansi.Profile.Capabilities.Ansi ? ProgressMode.Live : ProgressMode.Plain,
        _ => requested,
    };

    /// <summary>Writes one line (a log line, a failure): above the live status line while it is shown.</summary>
    public void WriteLine(string line)
    {
        lock (_gate)
        {
            if (_live)
            {
                // Padded to the full width, so that no part of the status line it is drawn over stays visible.
                _ansi.Write(new Padder(new Text(line), new Padding(0, 0, 0, 0)) { Expand = true });
            }
            else
            {
                _error.WriteLine(line);
                _error.Flush();
            }
        }
    }

    /// <summary>Starts showing <paramref name="progress"/>; a second call replaces nothing and is ignored.</summary>
    public void Start(JobProgress progress, ProgressOptions options)
    {
        if (_display is not null)
        {
            return;
        }

        _stop = new CancellationTokenSource();
        switch (Resolve(options.Mode))
        {
            case ProgressMode.Live:
                lock (_gate)
                {
                    _live = true;
                }

                _display = Task.Run(() => RunLiveAsync(progress, _stop.Token));
                break;
            case ProgressMode.Plain:
                _display = Task.Run(() => RunPlainAsync(progress, options.Interval, _stop.Token));
                break;
            default:
                _display = Task.CompletedTask;
                break;
        }
    }

    /// <summary>Stops the display: the live line is drawn a last time and left on the screen.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop is null || _display is null)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        Exception? failure = null;
        try
        {
            await _display.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A display that cannot draw must not change the job's outcome.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }

        lock (_gate)
        {
            _live = false;
        }

        if (failure is not null)
        {
            WriteLine("warning: the progress display failed: " + JobFailures.OneLine(failure.Message));
        }

        _stop.Dispose();
        _stop = null;
        _display = null;
    }

    private async Task RunLiveAsync(JobProgress progress, CancellationToken stop)
    {
        await _ansi.Live(Status(progress)).AutoClear(false).StartAsync(async context =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(Tick, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopping: draw the last state below.
                }

                context.UpdateTarget(Status(progress));
                context.Refresh();
            }
        }).ConfigureAwait(false);
    }

    private async Task RunPlainAsync(JobProgress progress, TimeSpan interval, CancellationToken stop)
    {
        (JobPhase, long?)? shown = null;
        long last = _time.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            JobProgressSnapshot snapshot = progress.GetSnapshot();

            // A line when the run changes phase (it started training, it is saving before it stops), and every interval.
            bool phaseChanged = (snapshot.Phase, snapshot.StopStep) != shown && snapshot.Phase is not (JobPhase.Starting or JobPhase.Ended);
            if (phaseChanged || _time.GetElapsedTime(last) >= interval)
            {
                shown = (snapshot.Phase, snapshot.StopStep);
                last = _time.GetTimestamp();
                WriteLine("progress: " + snapshot.ToStatusLine());
            }

            try
            {
                await Task.Delay(Tick, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The live line: the step in bold, a stop in yellow, failed saves in red; cut to the terminal's width.</summary>
    private Markup Status(JobProgress progress)
    {
        JobProgressSnapshot snapshot = progress.GetSnapshot();
        string[] parts = snapshot.Parts();
        int width = Math.Max(20, _ansi.Profile.Width - 1);
        int room = width - (3 * (parts.Length - 1));
        var styled = new List<string>(parts.Length);
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i].Length > room ? parts[i][..Math.Max(0, room - 1)] + "…" : parts[i];
            room = Math.Max(0, room - part.Length);
            string style = i switch
            {
                0 => "bold",
                1 when snapshot.Phase is JobPhase.Stopping or JobPhase.Finishing => "yellow",
                3 when snapshot.FailedSaves > 0 => "red",
                _ => string.Empty,
            };
            if (part.Length > 0)
            {
                styled.Add(style.Length == 0 ? Markup.Escape(part) : $"[{style}]{Markup.Escape(part)}[/]");
            }
        }

        return new Markup(string.Join(" · ", styled));
    }
}
