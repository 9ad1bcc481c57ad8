// The ckpt executable: list, show, verify, prune, gc and copy checkpoints in any supported store.
using InputPipeline.Checkpointing.Cli;
using InputPipeline.Checkpointing.Cli.Internal;

return await CliApp.RunAsync(args, new CliSettings
{
    Output = RedirectedOutput.CreateWriter(),
    Error = Console.Error,
    ShowProgress = !Console.IsOutputRedirected,
    HandleTerminationSignals = true,
}).ConfigureAwait(false);
