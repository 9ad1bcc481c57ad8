// The ckpt executable: list, show, verify, prune, gc and copy checkpoints in any supported store.
using InputPipeline.Checkpointing.Cli;

return await CliApp.RunAsync(args, new CliSettings
{
    Output = Console.Out,
    Error = Console.Error,
    ShowProgress = !Console.IsOutputRedirected,
    HandleTerminationSignals = true,
}).ConfigureAwait(false);
