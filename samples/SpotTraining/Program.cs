// SpotTraining: a training job for spot / preemptible VMs. It reads synthetic input files through a checkpointable
// pipeline (parallel interleave → parallel decode map → repeat → shuffle → batch → prefetch), checkpoints the
// pipeline and its "model" on the configured cadence into the configured store, and resumes exactly where the last
// committed checkpoint left off.
// On SIGTERM/Ctrl+C, or a cloud preemption notice (InputPipelineCheckpointing:Preemption:Aws|Azure|Gce, off by
// default), it finishes the current step, saves a final checkpoint there, and stops.
//
// Exit codes (JobExitCodes, samples/Shared): 0 done and the last checkpoint committed; 1 unexpected error;
// 2 invalid configuration; 3 unusable data directory; 4 checkpoint failure; 5 the final checkpoint did not commit.
return await SpotTraining.SpotTrainingJob.RunAsync(args);
