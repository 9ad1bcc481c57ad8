using InputPipeline.Checkpointing.Samples.Internal;
using Spectre.Console.Testing;

namespace InputPipeline.Checkpointing.Samples.Tests;

/// <summary>
/// <see cref="JobHost"/> in-process: on exit 0 the final line goes to standard output, followed by the result's own
/// <see cref="JobResult.Output"/> lines (so a job's last line, SpotTorch's <c>params &lt;hash&gt;</c>, stays the last line
/// of standard output); on any other code only the final line is printed, on standard error.
/// </summary>
public sealed class JobHostTests
{
    private static readonly string[] Quiet = ["--Logging:LogLevel:Default=Warning", "--Progress:Mode=Off"];

    [Fact]
    public async Task OnExit0_TheOutputLinesFollowTheFinalLine_AndTheLastOfThemIsTheLastLineOfStandardOutput()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        await using var console = new JobConsole(error, new TestConsole(), errorIsTerminal: false, TimeProvider.System);

        int code = await JobHost.RunAsync(Quiet, "Test", verbose: false, console, output, _ => { }, job =>
        {
            job.StartProgress(3);
            return Task.FromResult(new JobResult(JobExitCodes.Done, "Reached global step 3 of 3.") { Output = ["Trained 3 steps in 0.100 s.", "params 0123"] });
        });

        Assert.Equal(JobExitCodes.Done, code);
        Assert.Equal(["Reached global step 3 of 3.", "Trained 3 steps in 0.100 s.", "params 0123"], Lines(output));
        Assert.DoesNotContain("params", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnAnyOtherCode_OnlyTheFinalLineIsPrinted_OnStandardError()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        await using var console = new JobConsole(error, new TestConsole(), errorIsTerminal: false, TimeProvider.System);
        const string Line = "Reached global step 3 of 3, but the checkpoint at step 3 did not commit. A restart resumes from step 2 and repeats 1 steps.";

        int code = await JobHost.RunAsync(Quiet, "Test", verbose: false, console, output, _ => { }, _ =>
            Task.FromResult(new JobResult(JobExitCodes.FinalCheckpointNotCommitted, Line) { Output = ["params 0123"] }));

        Assert.Equal(JobExitCodes.FinalCheckpointNotCommitted, code);
        Assert.Equal(string.Empty, output.ToString());
        Assert.Equal(Line, Lines(error)[^1]);
        Assert.DoesNotContain("params", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Results_AreEqual_WhenTheirCodeMessageAndOutputLinesAre()
    {
        var result = new JobResult(JobExitCodes.Done, "done") { Output = ["params 0123"] };

        Assert.Equal(new JobResult(JobExitCodes.Done, "done") { Output = ["params 0123"] }, result);
        Assert.Equal(new JobResult(JobExitCodes.Done, "done").GetHashCode(), new JobResult(JobExitCodes.Done, "done") { Output = [] }.GetHashCode());
        Assert.NotEqual(new JobResult(JobExitCodes.Done, "done"), result);
        Assert.NotEqual(new JobResult(JobExitCodes.Done, "done") { Output = ["params 4567"] }, result);
        Assert.Empty(new JobResult(JobExitCodes.Done, "done").Output);
    }

    private static string[] Lines(StringWriter writer) => writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
}
