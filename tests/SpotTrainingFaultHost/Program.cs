// SpotTraining, unchanged, with one more store provider that only tests can select: "FaultInjecting", and the faults
// of the FaultInjection section (FailWritesAfterStep, ThrowAtStep): see tests/SampleFaults. Production builds of the
// sample never contain it.
return await SpotTraining.SpotTrainingJob.RunAsync(args, InputPipeline.Checkpointing.Samples.Faults.SampleFaults.Add);
