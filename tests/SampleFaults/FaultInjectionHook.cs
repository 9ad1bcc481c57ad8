using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Samples.Faults;

/// <summary>Arms the faults of <see cref="FaultInjectionOptions"/> as the run reaches their steps.</summary>
internal sealed class FaultInjectionHook(IOptions<FaultInjectionOptions> options, FaultInjectingInputStateStore store) : SessionRunHook
{
    public override ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        FaultInjectionOptions faults = options.Value;
        if (context.GlobalStep == faults.FailWritesAfterStep)
        {
            string prefix = faults.FailWritesWithPrefix ?? string.Empty;
            store.Arm(Fault.Fail.When(call => call.Operation == StoreOperation.Write && call.Key.StartsWith(prefix, StringComparison.Ordinal)).Repeatedly());
        }

        if (context.GlobalStep == faults.ThrowAtStep)
        {
            throw new InvalidOperationException($"An injected bug at step {context.GlobalStep}.");
        }

        return ValueTask.CompletedTask;
    }
}
