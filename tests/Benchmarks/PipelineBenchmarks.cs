using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using InputPipeline.Checkpointing.Pipeline;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goal 5, first half (BenchmarkDotNet): range → map → shuffle(10,000) → batch(32) as a checkpointable pipeline,
/// against a hand-written loop doing the same work with the same generator (xoshiro256**, Lemire's bounded draw,
/// tf.data's swap-with-last buffer), which yields exactly the same batches (checked before measuring).
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "BenchmarkDotNet runs instance methods.")]
public class PipelineThroughput
{
    /// <summary>Elements per run.</summary>
    public const int Elements = 1_000_000;

    /// <summary>The shuffle buffer.</summary>
    public const int BufferSize = 10_000;

    /// <summary>The batch size.</summary>
    public const int BatchSize = 32;

    /// <summary>The shuffle seed.</summary>
    public const ulong Seed = 42;

    private static readonly Dataset<long[]> s_pipeline = Dataset.Range(0, Elements).Map(x => Transform(x)).Shuffle(BufferSize, Seed).Batch(BatchSize);

    /// <summary>The map's work: a cheap integer mix, the same in both (the pipeline calls it through a lambda, as users write maps).</summary>
    public static long Transform(long x) => (x * 2_654_435_761L) ^ (x >> 3);

    /// <summary>The hand-written loop.</summary>
    /// <returns>A checksum of every batch, in order.</returns>
    [Benchmark(Baseline = true)]
    public long HandWritten()
    {
        var random = new Xoshiro(Seed);
        var buffer = new List<long>(BufferSize);
        long checksum = 0;
        long[] batch = new long[BatchSize];
        int filled = 0;
        long next = 0;
        while (true)
        {
            while (buffer.Count < BufferSize && next < Elements)
            {
                buffer.Add(Transform(next++));
            }

            if (buffer.Count == 0)
            {
                break;
            }

            int slot = random.NextBelow(buffer.Count);
            batch[filled++] = buffer[slot];
            int last = buffer.Count - 1;
            buffer[slot] = buffer[last];
            buffer.RemoveAt(last);
            if (filled == BatchSize)
            {
                checksum = Mix(checksum, batch, filled);
                batch = new long[BatchSize];
                filled = 0;
            }
        }

        return filled > 0 ? Mix(checksum, batch, filled) : checksum;
    }

    /// <summary>The checkpointable pipeline.</summary>
    /// <returns>A checksum of every batch, in order.</returns>
    [Benchmark]
    public async Task<long> Checkpointable()
    {
        long checksum = 0;
        await using ICheckpointableIterator<long[]> iterator = s_pipeline.CreateIterator();
        while (await iterator.MoveNextAsync())
        {
            long[] batch = iterator.Current;
            checksum = Mix(checksum, batch, batch.Length);
        }

        return checksum;
    }

    private static long Mix(long checksum, long[] batch, int count)
    {
        for (int i = 0; i < count; i++)
        {
            checksum = unchecked((checksum * 31) + batch[i]);
        }

        return checksum;
    }

    /// <summary>xoshiro256** seeded by SplitMix64, with Lemire's unbiased bounded draw: the shuffle's documented generator.</summary>
    private struct Xoshiro
    {
        private ulong _s0;
        private ulong _s1;
        private ulong _s2;
        private ulong _s3;

        public Xoshiro(ulong seed)
        {
            _s0 = SplitMix(ref seed);
            _s1 = SplitMix(ref seed);
            _s2 = SplitMix(ref seed);
            _s3 = SplitMix(ref seed);
        }

        public int NextBelow(int bound)
        {
            ulong range = (ulong)bound;
            UInt128 product = (UInt128)Next() * range;
            if ((ulong)product < range)
            {
                ulong threshold = unchecked(0UL - range) % range;
                while ((ulong)product < threshold)
                {
                    product = (UInt128)Next() * range;
                }
            }

            return (int)(ulong)(product >> 64);
        }

        private ulong Next()
        {
            unchecked
            {
                ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
                ulong t = _s1 << 17;
                _s2 ^= _s0;
                _s3 ^= _s1;
                _s1 ^= _s2;
                _s0 ^= _s3;
                _s2 ^= t;
                _s3 = ulong.RotateLeft(_s3, 45);
                return result;
            }
        }

        private static ulong SplitMix(ref ulong state)
        {
            unchecked
            {
                state += 0x9E3779B97F4A7C15UL;
                ulong z = state;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                return z ^ (z >> 31);
            }
        }
    }
}

/// <summary>Runs goal 5: the BenchmarkDotNet throughput comparison and the Stopwatch prefetch comparison.</summary>
public static class PipelineBenchmarks
{
    /// <summary>Runs <see cref="PipelineThroughput"/> under BenchmarkDotNet, in-process.</summary>
    /// <param name="quick">Fewer iterations.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> ThroughputAsync(bool quick, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var probe = new PipelineThroughput();
        long expected = probe.HandWritten();
        long actual = await probe.Checkpointable();
        if (expected != actual)
        {
            throw new InvalidOperationException($"The hand-written loop and the pipeline yield different batches (checksums {expected} and {actual}): the comparison would not be of the same work.");
        }

        Job job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(quick ? 6 : 10)
            .WithIterationCount(quick ? 15 : 30);
        IConfig config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddLogger(ConsoleLogger.Default)
            .AddColumnProvider(DefaultConfig.Instance.GetColumnProviders().ToArray())
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.DisableLogFile)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "ipc-benchmarkdotnet"));
        Summary summary = BenchmarkRunner.Run<PipelineThroughput>(config);
        double Median(string method) =>
            summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics?.Median
            ?? throw new InvalidOperationException($"BenchmarkDotNet produced no result for {method}: see its output above.");

        double oursPerSecond = PipelineThroughput.Elements / (Median(nameof(PipelineThroughput.Checkpointable)) / 1e9);
        double handPerSecond = PipelineThroughput.Elements / (Median(nameof(PipelineThroughput.HandWritten)) / 1e9);
        log.WriteLine($"  pipeline {oursPerSecond / 1e6:0.00} M elements/s, hand-written {handPerSecond / 1e6:0.00} M elements/s");
        return new BenchmarkResult(
            "5a. range-map-shuffle(10,000)-batch(32) vs hand-written loop",
            oursPerSecond / 1e6,
            handPerSecond / 1e6,
            "M elem/s",
            Goal.AtLeast(0.8),
            "BenchmarkDotNet, in-process, median; same generator and same batches (checksum checked)");
    }

    /// <summary>
    /// Prefetch with a 1 ms producer (the map) and a 1 ms consumer (the step), against the same pipeline without
    /// prefetch, where the two take turns.
    /// </summary>
    /// <param name="elements">Elements per run.</param>
    /// <param name="counts">Warm-ups and measured runs.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> PrefetchAsync(int elements, RunCounts counts, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        Dataset<long> produced = Dataset.Range(0, elements).Map(x =>
        {
            Thread.Sleep(1);
            return x;
        });
        (TimeSpan with, TimeSpan without) = await Harness.MeasurePairAsync(
            counts,
            async _ => await ConsumeAsync(produced.Prefetch(8)),
            async _ => await ConsumeAsync(produced));
        double withRate = elements / with.TotalSeconds;
        double withoutRate = elements / without.TotalSeconds;
        log.WriteLine($"  prefetch: {withRate:0} elements/s, without {withoutRate:0} elements/s");
        return new BenchmarkResult(
            "5b. prefetch(8), 1 ms producer + 1 ms consumer, vs no prefetch",
            withRate,
            withoutRate,
            "elem/s",
            Goal.AtLeast(1.7),
            $"{elements} elements; Thread.Sleep(1) on each side");

        static async Task ConsumeAsync(Dataset<long> dataset)
        {
            await using ICheckpointableIterator<long> iterator = dataset.CreateIterator();
            while (await iterator.MoveNextAsync())
            {
                Thread.Sleep(1);
            }
        }
    }
}
