using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Samples.Faults;

/// <summary>
/// Adds to a sample job one more store provider that only tests can select, <c>FaultInjecting</c>: the Local store
/// (<c>InputPipelineCheckpointing:Local:Path</c>) wrapped in src/Testing's <see cref="FaultInjectingInputStateStore"/>,
/// and the <see cref="FaultInjectionHook"/> that arms the faults the <c>FaultInjection</c> section asks for. A fault
/// host passes it as the job's <c>configure</c> callback, for example <c>SpotTorchJob.RunAsync(args, SampleFaults.Add)</c>.
/// </summary>
public static class SampleFaults
{
    /// <summary>Registers the <c>FaultInjecting</c> provider, the <see cref="FaultInjectionOptions"/> and the <see cref="FaultInjectionHook"/>.</summary>
    /// <param name="builder">The job's host builder, after the job's own services.</param>
    public static void Add(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton(sp => new FaultInjectingInputStateStore(new LocalInputStateStore(sp.GetRequiredService<IOptions<LocalStoreOptions>>().Value)));
        builder.Services.AddInputPipelineCheckpointing(builder.Configuration)
            .AddStore(FaultInjectionOptions.ProviderName, sp => sp.GetRequiredService<FaultInjectingInputStateStore>());
        builder.Services.AddOptions<FaultInjectionOptions>().Bind(builder.Configuration.GetSection(FaultInjectionOptions.SectionName));

        // The sample jobs run every ISessionRunHook of their services after their checkpointing hooks.
        builder.Services.AddSingleton<ISessionRunHook, FaultInjectionHook>();
    }
}
