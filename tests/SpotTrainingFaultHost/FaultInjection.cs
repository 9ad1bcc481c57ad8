using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Options;

namespace SpotTrainingFaultHost;

/// <summary>The <c>FaultInjection</c> section.</summary>
internal sealed class FaultInjection
{
    public const string SectionName = "FaultInjection";

    public const string ProviderName = "FaultInjecting";

    /// <summary>Every write fails once the run has finished this step; <see langword="null"/> for never.</summary>
    public long? FailWritesAfterStep { get; set; }

    /// <summary>This step throws an unexpected exception; <see langword="null"/> for never.</summary>
    public long? ThrowAtStep { get; set; }
}

/// <summary>Arms the faults of <see cref="FaultInjection"/> as the run reaches their steps.</summary>
internal sealed class FaultInjectionHook(IOptions<FaultInjection> options, FaultInjectingInputStateStore store) : SessionRunHook
{
    public override ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
    {
        FaultInjection faults = options.Value;
        if (context.GlobalStep == faults.FailWritesAfterStep)
        {
            store.Arm(Fault.Fail.When(call => call.Operation == StoreOperation.Write).Repeatedly());
        }

        if (context.GlobalStep == faults.ThrowAtStep)
        {
            throw new InvalidOperationException($"An injected bug at step {context.GlobalStep}.");
        }

        return ValueTask.CompletedTask;
    }
}
