using System.Diagnostics;
using System.Runtime.CompilerServices;
using InputPipeline.Checkpointing.Hosting;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goals 3 and 4, measured on a real training loop (<see cref="MonitoredTrainingSession"/>) with the hook saving to the
/// Local store in the background: how long the training thread is blocked per checkpoint, and what the hook costs a
/// whole run.
/// </summary>
public static class TrainingLoopBenchmarks
{
    private const int MiB = 1024 * 1024;

    /// <summary>
    /// Goal 3: the time the training loop spends inside the hook's calls at each checkpoint step of a 64 MiB state
    /// (capture = one copy of the state; the upload runs in the background), against one memcpy of 64 MiB into a
    /// reused buffer, measured in the same run.
    /// </summary>
    /// <param name="checkpoints">How many checkpoints to take.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> StallAsync(int checkpoints, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        const int saveSteps = 10;
        var state = new ByteState(64 * MiB, CaptureMode.Copy);
        using var temp = new TempDirectory("bench-stall");
        var store = new LocalInputStateStore(temp.Path);
        await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = saveSteps, SaveInBackground = true });
        var timed = new TimingHook(hook);
        var session = new TrainingSession();
        session.Iterators.Add("state", state);
        var monitored = new MonitoredTrainingSession(session, [timed]);

        // Each step does ~25 ms of work. The step before a checkpoint also waits (inside the step, not the hook) until
        // the previous upload has committed: the figure is what a checkpoint costs the loop when the store keeps up,
        // not how long a store takes to write 64 MiB (that is goal 1's).
        int work = Work.Calibrate(TimeSpan.FromMilliseconds(25));
        await monitored.RunAsync(
            (context, _) =>
            {
                Work.Run(work);
                state.Advance(context.GlobalStep);
                if ((context.GlobalStep + 1) % saveSteps == 0)
                {
                    int captured = state.CaptureTimes.Count;
                    if (!SpinWait.SpinUntil(() => hook.Manager.CommitCount >= captured, TimeSpan.FromSeconds(60)))
                    {
                        throw new TimeoutException($"The save of step {hook.LastSavedStep} did not commit within a minute.");
                    }
                }

                return ValueTask.FromResult(true);
            },
            lastStep: (long)saveSteps * (checkpoints + 1));

        // The first step restores or takes the initial save, and the last one's save is awaited by End: neither is a
        // steady-state checkpoint of a running loop.
        double[] stalls = [.. timed.Steps.Where(s => s.Saved && s.Step > saveSteps && s.Step < (long)saveSteps * (checkpoints + 1)).Select(s => s.HookTime.TotalMilliseconds)];
        double others = Harness.Median([.. timed.Steps.Where(s => !s.Saved).Select(s => s.HookTime.TotalMilliseconds)]);

        byte[] copy = GC.AllocateUninitializedArray<byte>(state.Bytes.Length);
        state.Bytes.CopyTo(copy, 0);
        var copies = new List<double>();
        for (int i = 0; i < 9; i++)
        {
            long start = Stopwatch.GetTimestamp();
            state.Bytes.AsSpan().CopyTo(copy);
            copies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        double memcpy = Harness.Median(copies);
        double stall = Harness.Median(stalls);
        double capture = Harness.Median([.. state.CaptureTimes.Skip(1).Select(t => t.TotalMilliseconds)]);
        log.WriteLine($"  capture (CheckpointSnapshots.CopyOf of 64 MiB): median {capture:0.00} ms; GC pauses during the checkpoint steps' hook calls: {timed.GcPauseAtSaves.TotalMilliseconds:0.0} ms in all");
        log.WriteLine($"  stall per checkpoint: median {stall:0.00} ms over {stalls.Length} checkpoints (max {stalls.Max():0.00}); other steps {others * 1000:0.0} us; memcpy 64 MiB {memcpy:0.00} ms");
        return new BenchmarkResult(
            "3. training-thread stall per 64 MiB checkpoint vs memcpy 64 MiB",
            stall,
            memcpy,
            "ms",
            Goal.AtMost(2.0),
            $"background saving to Local; median of {stalls.Length} checkpoints (max {stalls.Max():0.00} ms); capture = CheckpointSnapshots.CopyOf; baseline copies into a reused buffer");
    }

    /// <summary>
    /// Goal 4: a 20,000-step loop whose step does ~100 µs of work, with and without the hook saving a 64 KiB state to
    /// the Local store every 100 steps.
    /// </summary>
    /// <param name="counts">Warm-ups and measured runs (each run is a whole loop, with and without the hook).</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> HookCostAsync(RunCounts counts, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        const int steps = 20_000;
        int work = Work.Calibrate(TimeSpan.FromMicroseconds(100));
        using var temp = new TempDirectory("bench-hook");
        long saves = 0;
        var inHook = new List<double>();
        var gcPauses = new List<double>();
        var gcCounts = new List<double>();
        (TimeSpan with, TimeSpan without) = await Harness.MeasurePairAsync(
            counts,
            async run =>
            {
                var store = new LocalInputStateStore(temp.Combine($"run{run + 100}"));
                await using var hook = new CheckpointInputPipelineHook(store, new CheckpointInputPipelineHookOptions { SaveSteps = 100 });
                var timed = new TimingHook(hook);
                var state = new ByteState(64 * 1024, CaptureMode.Copy);
                TimeSpan paused = GC.GetTotalPauseDuration();
                int gen0 = GC.CollectionCount(0);
                await RunLoopAsync(steps, work, state, [timed]);
                saves = hook.Manager.CommitCount;
                inHook.Add(timed.Steps.Sum(s => s.HookTime.TotalMilliseconds));
                gcPauses.Add((GC.GetTotalPauseDuration() - paused).TotalMilliseconds);
                gcCounts.Add(GC.CollectionCount(0) - gen0);
            },
            async _ => await RunLoopAsync(steps, work, new ByteState(64 * 1024, CaptureMode.Copy), []));
        log.WriteLine($"  20,000 steps: with hook {with.TotalMilliseconds:0} ms ({saves} saves; {Harness.Median(inHook):0.0} ms inside the hook's calls; GC: {Harness.Median(gcCounts):0} collections, {Harness.Median(gcPauses):0.0} ms paused), without {without.TotalMilliseconds:0} ms");
        return new BenchmarkResult(
            "4. 20,000-step loop with hook (64 KiB every 100 steps, Local) vs without",
            with.TotalMilliseconds,
            without.TotalMilliseconds,
            "ms",
            Goal.AtMost(1.03),
            $"~100 us of CPU work per step; {saves} saves per run, in the background; {Harness.Median(inHook):0.0} ms per run inside the hook's calls");
    }

    private static async Task RunLoopAsync(int steps, int work, ByteState state, ISessionRunHook[] hooks)
    {
        var session = new TrainingSession();
        session.Iterators.Add("state", state);
        await new MonitoredTrainingSession(session, hooks).RunAsync(
            (context, _) =>
            {
                Work.Run(work);
                state.Advance(context.GlobalStep);
                return ValueTask.FromResult(true);
            },
            lastStep: steps);
    }

    /// <summary>Times every step's hook calls and records whether the step committed or started a save.</summary>
    private sealed class TimingHook(CheckpointInputPipelineHook inner) : ISessionRunHook
    {
        private long _before;

        public List<(long Step, TimeSpan HookTime, bool Saved)> Steps { get; } = [];

        public ValueTask BeginAsync(CancellationToken cancellationToken = default) => inner.BeginAsync(cancellationToken);

        public ValueTask AfterCreateSessionAsync(ITrainingSession session, CancellationToken cancellationToken = default) =>
            inner.AfterCreateSessionAsync(session, cancellationToken);

        public async ValueTask BeforeRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            long start = Stopwatch.GetTimestamp();
            await inner.BeforeRunAsync(context, cancellationToken);
            _before = Stopwatch.GetTimestamp() - start;
        }

        public TimeSpan GcPauseAtSaves { get; private set; }

        public async ValueTask AfterRunAsync(SessionRunContext context, CancellationToken cancellationToken = default)
        {
            long? savedBefore = inner.LastSavedStep;
            TimeSpan paused = GC.GetTotalPauseDuration();
            long start = Stopwatch.GetTimestamp();
            await inner.AfterRunAsync(context, cancellationToken);
            long after = Stopwatch.GetTimestamp() - start;
            if (inner.LastSavedStep != savedBefore)
            {
                GcPauseAtSaves += GC.GetTotalPauseDuration() - paused;
            }

            Steps.Add((context.GlobalStep, TimeSpan.FromTicks((long)((_before + after) * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency))), inner.LastSavedStep != savedBefore));
        }

        public ValueTask EndAsync(ITrainingSession session, CancellationToken cancellationToken = default) => inner.EndAsync(session, cancellationToken);
    }
}

/// <summary>A fixed amount of CPU work, calibrated to a duration on this machine.</summary>
public static class Work
{
    private static ulong s_sink;

    /// <summary>Returns the number of iterations of <see cref="Run"/> that take about <paramref name="duration"/>.</summary>
    /// <param name="duration">The wanted duration.</param>
    /// <returns>The iterations.</returns>
    public static int Calibrate(TimeSpan duration)
    {
        const int probe = 2_000_000;
        Run(probe);
        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Run(probe);
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return (int)Math.Max(1, probe * duration.TotalSeconds / Harness.Median(times));
    }

    /// <summary>Runs <paramref name="iterations"/> of a dependent integer recurrence the JIT cannot remove.</summary>
    /// <param name="iterations">The iterations.</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int iterations)
    {
        ulong x = s_sink | 1;
        for (int i = 0; i < iterations; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }

        s_sink = x;
    }
}
