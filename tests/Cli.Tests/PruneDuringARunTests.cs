using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Cli.Tests;

/// <summary><c>ckpt prune</c> on a chain a job is writing: the job keeps its ownership and goes on; only a takeover during the prune is a conflict.</summary>
public sealed class PruneDuringARunTests : IDisposable
{
    private readonly TempDirectory _temp = new("ckpt-prune-run");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Prune_while_a_job_saves_keeps_the_jobs_owner_epoch_and_every_save_commits()
    {
        string path = _temp.Combine("job");
        using var job = new CheckpointManager(new LocalInputStateStore(path), new CheckpointManagerOptions { KeepMax = 100 });
        await job.ClaimAsync();
        await job.SaveAsync(0, Bytes(0));
        using var stop = new CancellationTokenSource();
        Task<long> saving = Task.Run(async () =>
        {
            long step = 0;
            while (!stop.IsCancellationRequested || step < 40)
            {
                await job.SaveAsync(++step, Bytes(step));
            }

            return step;
        });

        var outputs = new List<CliResult>();
        for (int i = 0; i < 8; i++)
        {
            outputs.Add((await Ckpt.RunAsync("prune", path, "--keep", "2", "--pipeline", "input")).Expect(0));
        }

        await stop.CancelAsync();
        long last = await saving;

        Assert.False(job.IsOwnershipLost);
        Assert.Contains(outputs, o => o.Output.Contains("Pruned", StringComparison.Ordinal));
        CheckpointStateFile state = CheckpointStateFile.Parse(await File.ReadAllBytesAsync(Path.Combine(path, "checkpoint_input")), "checkpoint_input");
        Assert.Equal((job.OwnerEpoch, job.WriterId), (state.OwnerEpoch, state.OwnerId));
        Assert.Equal(last, state.Latest!.Step);
        Assert.Equal(state.Checkpoints.Select(c => c.Step).OrderDescending(), state.Checkpoints.Select(c => c.Step));
        Assert.True(state.Checkpoints.Count < last, "the prunes dropped checkpoints");
        (await Ckpt.RunAsync("verify", path, "--all")).Expect(0);
    }

    private static KeyValuePair<string, ICheckpointSnapshot>[] Bytes(long step) =>
        [new("iterator", CheckpointSnapshots.CopyOf(BitConverter.GetBytes(step)))];
}
