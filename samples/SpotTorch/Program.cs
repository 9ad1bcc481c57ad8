// SpotTorch: a real TorchSharp training job for spot / preemptible VMs. A multi-layer perceptron with dropout learns a
// seeded synthetic classification task stored as record files, read through a checkpointable pipeline (interleave →
// repeat → shuffle → batch → prefetch → tensors), with Adam under a step learning-rate schedule. The module, the
// optimizer, the schedule and torch's random generator are checkpointed as the model chain beside the input chain, at
// the same steps, into the configured store; a restart resumes at the newest step where both verify, and produces the
// same loss at every step and the same final weights, bit for bit, as a run that was never interrupted. On SIGTERM,
// Ctrl+C or a cloud preemption notice (InputPipelineCheckpointing:Preemption:Aws|Azure|Gce, off by default) it finishes
// the current step, saves both chains there, and stops.
//
// Exit codes (JobExitCodes, samples/Shared): 0 done and both chains committed the last step; 1 unexpected error;
// 2 invalid configuration; 3 unusable data directory; 4 checkpoint failure; 5 the final checkpoint did not commit.
// On exit 0 the last line on standard output is "params <SHA-256 of the final parameters>".
return await SpotTorch.SpotTorchJob.RunAsync(args);
