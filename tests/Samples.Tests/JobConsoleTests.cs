using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Samples.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Spectre.Console.Testing;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>The job's standard error in-process: the live line on a terminal, plain lines otherwise, one-line logs, and the failure lines.</summary>
public sealed class JobConsoleTests
{
    [Fact]
    public async Task OnATerminal_TheStatusLineIsDrawnLive_AndLogLinesAppearAboveIt()
    {
        using TestConsole terminal = new TestConsole().Width(120).EmitAnsiSequences().Interactive();
        var progress = new JobProgress(targetStep: 400);
        await using var console = new JobConsole(TextWriter.Null, terminal, errorIsTerminal: true, TimeProvider.System);
        Assert.Equal(ProgressMode.Live, console.Resolve(ProgressMode.Auto));

        console.Start(progress, new ProgressOptions());
        await WaitForAsync(() => terminal.Output.Contains("starting: resuming", StringComparison.Ordinal));
        console.WriteLine("warn: CheckpointManager[1005] a warning while the line is live");
        await console.DisposeAsync();

        string output = terminal.Output;
        string text = System.Text.RegularExpressions.Regex.Replace(output, @"\u001b\[[0-9;?]*[A-Za-z]", string.Empty);
        Assert.Contains("step ?/400 · starting: resuming from the last checkpoint · no checkpoint yet · 0 failed saves", text, StringComparison.Ordinal);
        Assert.Contains("\u001b[1mstep ?/400", output, StringComparison.Ordinal); // the step in bold
        Assert.Contains("warn: CheckpointManager[1005] a warning while the line is live", text, StringComparison.Ordinal);
        Assert.Contains("\u001b[", output, StringComparison.Ordinal); // drawn with terminal sequences (Spectre.Console's live display)
    }

    [Fact]
    public async Task Redirected_PlainLinesComeEveryInterval_AndAtOnceWhenTheJobStartsStopping()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));
        var output = new StringWriter();
        using TestConsole notATerminal = new();
        var progress = new JobProgress(targetStep: 400, time);
        await using var console = new JobConsole(TextWriter.Synchronized(output), notATerminal, errorIsTerminal: false, time);
        Assert.Equal(ProgressMode.Plain, console.Resolve(ProgressMode.Auto));
        var session = new TrainingSession(globalStep: 120);
        var context = new SessionRunContext(session, time.GetUtcNow());

        console.Start(progress, new ProgressOptions { Interval = TimeSpan.FromSeconds(10) });
        await progress.BeforeRunAsync(context);
        await AdvanceUntilAsync(time, () => Lines(output).Length == 1);
        Assert.Equal("progress: step 120/400 · measuring speed · no checkpoint yet · 0 failed saves", Lines(output)[0]);

        for (int i = 0; i < 9; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        Assert.Single(Lines(output)); // not before the interval
        await AdvanceUntilAsync(time, () => Lines(output).Length == 2);

        using var monitor = new Preemption.PreemptionMonitor(timeProvider: time);
        progress.Watch(monitor);
        monitor.RequestPreemption(Preemption.PreemptionReason.HostStopping);
        await AdvanceUntilAsync(time, () => Lines(output).Length == 3, step: JobConsole.Tick);
        Assert.Contains("stop requested (HostStopping): finishing the step under way", Lines(output)[2], StringComparison.Ordinal);
        Assert.All(Lines(output), l => Assert.DoesNotContain("\u001b[", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModeOff_WritesNoProgress_ButStillWritesLogLines()
    {
        var output = new StringWriter();
        using TestConsole terminal = new TestConsole().EmitAnsiSequences();
        await using var console = new JobConsole(output, terminal, errorIsTerminal: true, TimeProvider.System);

        console.Start(new JobProgress(10), new ProgressOptions { Mode = ProgressMode.Off });
        console.WriteLine("fail: something");
        await console.DisposeAsync();

        Assert.Equal("fail: something" + Environment.NewLine, output.ToString());
        Assert.Equal(string.Empty, terminal.Output);
    }

    [Fact]
    public void LogLines_AreOneLineWithTheCause_AndTheStackOnlyWhenVerbose()
    {
        Exception cause = Thrown(new CheckpointStoreException("Local", "input.ckpt-120.part", "No space left on device"));

        string line = JobConsoleLoggerProvider.Format("InputPipeline.Checkpointing.CheckpointInputPipelineHook", LogLevel.Error, new EventId(1103), "Saving failed\nbadly.", cause, verbose: false);
        string verbose = JobConsoleLoggerProvider.Format("InputPipeline.Checkpointing.Hosting.Estimator<System.String[]>", LogLevel.Warning, new EventId(1151), "Saving failed.", cause, verbose: true);

        Assert.Equal("fail: CheckpointInputPipelineHook[1103] Saving failed badly. (Local store, key \"input.ckpt-120.part\": No space left on device)", line);
        Assert.StartsWith("warn: Estimator[1151] Saving failed." + Environment.NewLine + "InputPipeline.Checkpointing.CheckpointStoreException: Local store", verbose, StringComparison.Ordinal);
        Assert.Contains("   at ", verbose, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheHostsOwnReportOfAFailedStart_IsLeftOut_UnlessVerbose()
    {
        var output = new StringWriter();
        await using var console = new JobConsole(output, new TestConsole(), errorIsTerminal: false, TimeProvider.System);
        using var quiet = new JobConsoleLoggerProvider(console, verbose: false);
        using var loud = new JobConsoleLoggerProvider(console, verbose: true);
        var failure = new OptionsValidationException("x", typeof(object), ["Training:Steps: bad."]);

        HostLog.StartFailed(quiet.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host"), failure);
        HostLog.BackgroundServiceFailed(quiet.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host"), failure);
        Assert.Equal("fail: Host[9] BackgroundService failed (Training:Steps: bad.)" + Environment.NewLine, output.ToString());

        HostLog.StartFailed(loud.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host"), failure);
        Assert.Contains("Hosting failed to start", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Failures_MapToTheDocumentedCodes_WithOneLineSayingWhatToDo()
    {
        (int code, string line, bool expected) = JobFailures.Describe(new OptionsValidationException("x", typeof(object), ["InputPipelineCheckpointing:SaveSteps: must be at least 1 (was -3)."]));
        Assert.Equal((JobExitCodes.InvalidConfiguration, "Invalid configuration: InputPipelineCheckpointing:SaveSteps: must be at least 1 (was -3).", true), (code, line, expected));

        Assert.Equal(JobExitCodes.InvalidConfiguration, JobFailures.Describe(new CheckpointOptionsException("InputPipelineCheckpointing:Provider", "\"Nope\" is not a registered provider.")).Code);
        Assert.Equal(JobExitCodes.InvalidConfiguration, JobFailures.Describe(new InvalidOperationException("Failed to convert configuration value 'abc' at 'Training:Steps' to type 'System.Int64'.")).Code);
        Assert.Equal((JobExitCodes.UnusableData, "The data is damaged."), (JobFailures.Describe(new JobFailureException(JobExitCodes.UnusableData, "The data\nis damaged.")).Code, JobFailures.Describe(new JobFailureException(JobExitCodes.UnusableData, "The data\nis damaged.")).Line));

        (code, line, _) = JobFailures.Describe(new CheckpointStoreException("S3", "checkpoint", "GetObject failed: Connection refused"));
        Assert.Equal(JobExitCodes.CheckpointFailure, code);
        Assert.Equal("The S3 store cannot be used: S3 store, key \"checkpoint\": GetObject failed: Connection refused. Check the InputPipelineCheckpointing:S3 settings, the credentials and the network, then restart: the job resumes from its last committed checkpoint.", line);

        (code, line, _) = JobFailures.Describe(new CheckpointOwnershipLostException("input", "checkpoint_input"));
        Assert.Equal(JobExitCodes.CheckpointFailure, code);
        Assert.StartsWith("Ownership lost: ", line, StringComparison.Ordinal);
        Assert.EndsWith("Another copy of this job has taken over the chain \"input\": this copy stops, and the other carries on. Restart this one only once that copy is gone.", line, StringComparison.Ordinal);

        Assert.StartsWith("Checkpoint failure: ", JobFailures.Describe(new CheckpointCorruptedException("input.ckpt-5.manifest", "bad checksum")).Line, StringComparison.Ordinal);

        (code, line, expected) = JobFailures.Describe(Thrown(new FormatException("oops")));
        Assert.Equal((JobExitCodes.Unexpected, false), (code, expected));
        Assert.StartsWith("Unexpected error (a bug; please report it): System.FormatException: oops", line, StringComparison.Ordinal);
        Assert.Contains("   at ", line, StringComparison.Ordinal);
    }

    private static string[] Lines(StringWriter output) => output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!condition())
        {
            await Task.Delay(10, deadline.Token);
        }
    }

    /// <summary>Advances the fake clock a second (or <paramref name="step"/>) at a time, letting the display's loop run, until <paramref name="condition"/> holds.</summary>
    private static async Task AdvanceUntilAsync(FakeTimeProvider time, Func<bool> condition, TimeSpan? step = null)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!condition())
        {
            time.Advance(step ?? TimeSpan.FromSeconds(1));
            await Task.Delay(5, deadline.Token);
        }
    }
}

/// <summary>The generic host's two error events, as it logs them.</summary>
internal static partial class HostLog
{
    [LoggerMessage(11, LogLevel.Error, "Hosting failed to start", EventName = "HostedServiceStartupFaulted")]
    public static partial void StartFailed(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Error, "BackgroundService failed", EventName = "BackgroundServiceFaulted")]
    public static partial void BackgroundServiceFailed(ILogger logger, Exception exception);
}
