// SpotTraining, unchanged, with one more store provider that only tests can select: "FaultInjecting", the Local store
// (InputPipelineCheckpointing:Local:Path) wrapped in src/Testing's FaultInjectingInputStateStore. Production builds of
// the sample never contain it. Its settings (section FaultInjection):
//   FailWritesAfterStep=k  every store write fails once the run has finished step k, as on a full disk; reads and
//                          lists still work. With InputPipelineCheckpointing:SaveInBackground=false the saves at step k
//                          have committed when the fault is armed, so a restart resumes from exactly k.
//   ThrowAtStep=k          step k throws an unexpected exception (a bug), to see how the job reports one.
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SpotTraining;
using SpotTrainingFaultHost;

return await SpotTrainingJob.RunAsync(args, builder =>
{
    builder.Services.AddSingleton(sp => new FaultInjectingInputStateStore(new LocalInputStateStore(sp.GetRequiredService<IOptions<LocalStoreOptions>>().Value)));
    builder.Services.AddInputPipelineCheckpointing(builder.Configuration)
        .AddStore(FaultInjection.ProviderName, sp => sp.GetRequiredService<FaultInjectingInputStateStore>());
    builder.Services.AddOptions<FaultInjection>().Bind(builder.Configuration.GetSection(FaultInjection.SectionName));
    builder.Services.AddSingleton<ISessionRunHook, FaultInjectionHook>();
});
