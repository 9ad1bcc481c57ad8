using System.Threading.Channels;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary>
/// <c>ckpt list --watch</c> and <c>ckpt show --watch</c> follow a running job: each refresh shows the steps and their
/// ages on the tool's clock (a fake one here, advanced by the test: no wall-clock assertion), and the watch ends
/// cleanly on cancellation (Ctrl+C) or after <c>--count</c> refreshes.
/// </summary>
public sealed class WatchTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _temp = new("ckpt-watch");
    private readonly TimerSignallingTimeProvider _time = new(Start);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task List_watch_refreshes_with_the_new_steps_and_their_ages_then_stops_after_count()
    {
        string path = _temp.Combine("job");
        using var job = new Job(new LocalInputStateStore(path), _time);
        await job.SaveAsync(20);
        var output = new LockedWriter();

        Task<CliResult> watch = RunAsync(["list", path, "--pipeline", "input", "--watch", "--interval", "5s", "--count", "3"], output);
        await _time.WaitForTimerAsync(); // refresh 1 is out, the tool waits for the next
        _time.Advance(TimeSpan.FromSeconds(3));
        await job.SaveAsync(40); // the job commits while the tool waits
        _time.Advance(TimeSpan.FromSeconds(2));
        await _time.WaitForTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(5));
        CliResult result = (await watch).Expect(0);

        string[] refreshes = output.Text.Split("--- ", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, refreshes.Length);
        Assert.StartsWith("2026-11-01T12:00:00Z · refresh 1 · every 5s · Ctrl+C to stop", refreshes[0], StringComparison.Ordinal);
        Assert.Contains("STEP  CREATED (UTC)         AGE       SIZE", refreshes[0], StringComparison.Ordinal);
        Assert.Matches(@"\n  20 +2026-11-01T12:00:00Z +just now +.* latest", refreshes[0]);
        Assert.DoesNotContain("\n  40 ", refreshes[0], StringComparison.Ordinal);
        Assert.StartsWith("2026-11-01T12:00:05Z · refresh 2", refreshes[1], StringComparison.Ordinal);
        Assert.Matches(@"\n  40 +2026-11-01T12:00:03Z +2 s ago +.* latest", refreshes[1]);
        Assert.Matches(@"\n  20 +2026-11-01T12:00:00Z +5 s ago ", refreshes[1]);
        Assert.Matches(@"\n  40 +2026-11-01T12:00:03Z +7 s ago +.* latest", refreshes[2]);
        Assert.Equal(string.Empty, result.Error);
    }

    [Fact]
    public async Task Show_watch_waits_for_a_job_that_has_not_committed_yet_and_ends_cleanly_when_cancelled()
    {
        string path = Directory.CreateDirectory(_temp.Combine("job")).FullName;
        using var job = new Job(new LocalInputStateStore(path), _time);
        var output = new LockedWriter();
        using var ctrlC = new CancellationTokenSource();

        Task<CliResult> watch = RunAsync(["show", path, "--watch", "--interval", "1s"], output, ctrlC.Token);
        await _time.WaitForTimerAsync();
        Assert.Contains("ckpt: ", output.Text, StringComparison.Ordinal); // nothing to show yet: the refresh says why, and the watch goes on
        Assert.Contains("no checkpoints found", output.Text, StringComparison.Ordinal);
        await job.SaveAsync(7);
        _time.Advance(TimeSpan.FromSeconds(1));
        await _time.WaitForTimerAsync();
        Assert.Contains("pipeline input, step 7 (latest)", output.Text, StringComparison.Ordinal);
        await ctrlC.CancelAsync();
        CliResult result = (await watch).Expect(0);

        Assert.Contains("created     2026-11-01T12:00:00Z (1 s ago)", output.Text, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Error); // no "interrupted": Ctrl+C is how a watch ends
    }

    [Fact]
    public async Task Watch_options_are_checked()
    {
        string path = Directory.CreateDirectory(_temp.Combine("job")).FullName;

        (await Ckpt.RunAsync("list", path, "--watch", "--interval", "10ms")).ExpectFailure(CliExitCodes.BadArguments, "--interval: \"10ms\" is not a duration of at least 100ms");
        (await Ckpt.RunAsync("list", path, "--watch", "--count", "0")).ExpectFailure(CliExitCodes.BadArguments, "--count: \"0\" is not a whole number of at least 1.");
        (await Ckpt.RunAsync("list", path, "--count", "2")).ExpectFailure(CliExitCodes.BadArguments, "--interval and --count apply to --watch only.");
        (await Ckpt.RunAsync("show", path, "--watch", "--json")).ExpectFailure(CliExitCodes.BadArguments, "--watch draws text; with --json");
        (await Ckpt.RunAsync("list", _temp.Combine("missing"), "--watch")).ExpectFailure(CliExitCodes.StoreUnavailable, "does not exist");
    }

    [Fact]
    public async Task The_executable_watches_for_count_refreshes_without_terminal_sequences_when_redirected()
    {
        string path = _temp.Combine("job");
        await TestCheckpoints.CreateJobAsync(new LocalInputStateStore(path));

        CliResult result = (await CkptProcess.RunAsync(["list", path, "--watch", "--interval", "100ms", "--count", "2"])).Expect(0);

        Assert.Equal(2, result.Output.Split("--- ").Length - 1);
        Assert.Contains("AGE", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", result.Output, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Error);
    }

    [Fact]
    public async Task The_executable_stops_watching_cleanly_when_the_reader_of_its_output_goes_away()
    {
        // `ckpt list --watch | head -n 3`: once head has its lines and exits, the watch must end (exit 0, nothing on
        // stderr) rather than refresh forever into a closed pipe. pipefail makes the pipeline's status ckpt's.
        string path = _temp.Combine("job");
        await TestCheckpoints.CreateJobAsync(new LocalInputStateStore(path));
        Assert.True(File.Exists(CkptProcess.ToolDll), $"{CkptProcess.ToolDll} is missing: build src/Cli (the test project's build does).");

        CliResult result = await CkptProcess.RunCommandAsync(
            ["bash", "-c", "set -o pipefail; dotnet \"$0\" list \"$1\" --watch --interval 100ms | head -n 3", CkptProcess.ToolDll, path],
            timeout: TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("--- ", result.Output, StringComparison.Ordinal);
        Assert.Contains(path + " (Local)", result.Output, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Error);
    }

    private async Task<CliResult> RunAsync(string[] args, LockedWriter output, CancellationToken cancellationToken = default)
    {
        var error = new StringWriter();
        var settings = new CliSettings { Output = output, Error = error, TimeProvider = _time };
        int code = await CliApp.RunAsync(args, settings, cancellationToken);
        return new CliResult(code, output.Text, error.ToString());
    }

    /// <summary>A job's input chain, committing on the fake clock.</summary>
    private sealed class Job(IInputStateStore store, TimeProvider time) : IDisposable
    {
        private readonly CheckpointManager _manager = new(store, new CheckpointManagerOptions { Chain = "input" }, timeProvider: time);

        public Task SaveAsync(long step) => _manager.SaveAsync(step, [KeyValuePair.Create("train", CheckpointSnapshots.FromBytes(BitConverter.GetBytes(step)))]);

        public void Dispose() => _manager.Dispose();
    }

    /// <summary>The tool's standard output, read by the test while the tool writes.</summary>
    private sealed class LockedWriter : StringWriter
    {
        private readonly Lock _gate = new();

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return ToString();
                }
            }
        }

        public override void Write(char value)
        {
            lock (_gate)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_gate)
            {
                base.Write(value);
            }
        }

        public override void Write(char[] buffer, int index, int count)
        {
            lock (_gate)
            {
                base.Write(buffer, index, count);
            }
        }

        public override Task WriteAsync(string? value)
        {
            Write(value);
            return Task.CompletedTask;
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }

    }

    /// <summary>A fake clock that tells the test when the tool starts waiting (creates a timer), so the test advances it only then.</summary>
    private sealed class TimerSignallingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly Channel<bool> _timers = Channel.CreateUnbounded<bool>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            ITimer timer = base.CreateTimer(callback, state, dueTime, period);
            _timers.Writer.TryWrite(true);
            return timer;
        }

        public async Task WaitForTimerAsync()
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await _timers.Reader.ReadAsync(deadline.Token); // throws if the tool never starts waiting for its next refresh
        }
    }
}
