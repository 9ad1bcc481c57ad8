using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics;
using InputPipeline.Checkpointing.Local;
using InputPipeline.Checkpointing.Pipeline;
using InputPipeline.Checkpointing.TestSupport;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>
/// Goal 8: the parallel map and interleave against their sequential forms (same output checked before timing), the
/// capture stall they cause, the prefetch capture against a slow upstream read, and the TFRecord reader against a
/// hand-written one with the same CRC checks.
/// </summary>
public static class ParallelPipelineBenchmarks
{
    private const int BatchSize = 32;

    /// <summary>8a: a ~200 µs CPU-bound map at parallelism 2 against the sequential map, in batches of 32.</summary>
    /// <param name="quick">Fewer elements and runs.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> ParallelMapAsync(bool quick, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        int spins = Work.Calibrate(TimeSpan.FromMicroseconds(200));
        int elements = quick ? 2_000 : 5_000;
        Dataset<long[]> Build(int parallelism) => Dataset.Range(0, elements).Map(x => Work.Spin(x, spins), parallelism).Batch(BatchSize);
        await CheckSameAsync(Build(1), Build(2), "the sequential and the parallel map");

        (TimeSpan parallel, TimeSpan sequential) = await Harness.MeasurePairAsync(
            new RunCounts(1, quick ? 5 : 9),
            _ => ConsumeAsync(Build(2)),
            _ => ConsumeAsync(Build(1)));
        double parallelRate = elements / parallel.TotalSeconds;
        double sequentialRate = elements / sequential.TotalSeconds;
        log.WriteLine($"  parallel map: {parallelRate:0} elements/s at parallelism 2, {sequentialRate:0} sequential ({spins} spins ≈ 200 µs)");
        return new BenchmarkResult(
            "8a. map of a ~200 µs function, parallelism 2, vs sequential map",
            parallelRate,
            sequentialRate,
            "elem/s",
            Goal.AtLeast(1.7),
            $"{elements} elements in batches of {BatchSize}; the same batches checked first; {Environment.ProcessorCount} cores");
    }

    /// <summary>8b: an interleave over 8 store objects, 5 ms per read, parallelism 4 against the sequential interleave.</summary>
    /// <param name="quick">Smaller objects and fewer runs.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> ParallelInterleaveAsync(bool quick, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        using var folder = new TempDirectory("bench-interleave");
        var local = new LocalInputStateStore(folder.Combine("store"));
        const int Objects = 8;
        int recordsPerObject = quick ? 600 : 1_500;
        string[] keys = [.. Enumerable.Range(0, Objects).Select(i => $"shards/part-{i:D2}")];
        foreach (string key in keys)
        {
            var bytes = new MemoryStream();
            for (int r = 0; r < recordsPerObject; r++)
            {
                byte[] record = new byte[1024];
                BinaryPrimitives.WriteInt32LittleEndian(record, r);
                bytes.Write(BitConverter.GetBytes(record.Length));
                bytes.Write(record);
            }

            bytes.Position = 0;
            await local.WriteAsync(key, bytes, WriteCondition.None);
        }

        var store = new LatencyStore(local, TimeSpan.FromMilliseconds(5));
        Dataset<byte[]> Build(int parallelism) => Dataset.FromList(keys).Interleave(k => Dataset.StoreObjects(store, k), Objects, 1, parallelism);
        await CheckSameAsync(Build(1).Batch(BatchSize), Build(4).Batch(BatchSize), "the sequential and the parallel interleave");

        long reads = store.Reads;
        await ConsumeAsync(Build(1));
        long readsPerRun = store.Reads - reads;
        (TimeSpan parallel, TimeSpan sequential) = await Harness.MeasurePairAsync(
            new RunCounts(1, quick ? 3 : 7),
            _ => ConsumeAsync(Build(4)),
            _ => ConsumeAsync(Build(1)));
        int elements = Objects * recordsPerObject;
        double parallelRate = elements / parallel.TotalSeconds;
        double sequentialRate = elements / sequential.TotalSeconds;
        log.WriteLine($"  parallel interleave: {parallelRate:0} records/s at parallelism 4, {sequentialRate:0} sequential ({readsPerRun} reads of 5 ms per run)");
        return new BenchmarkResult(
            "8b. interleave of 8 store objects, 5 ms per read, parallelism 4, vs sequential",
            parallelRate,
            sequentialRate,
            "rec/s",
            Goal.AtLeast(2.5),
            $"Local store with 5 ms injected before every read (open and each 64 KiB chunk; {readsPerRun} per run); {elements} records of 1 KiB");
    }

    /// <summary>
    /// 8c: the training thread's stall in <c>CaptureState</c> of map(~200 µs) → shuffle(1024) → batch(32), with the map
    /// at parallelism 2 (its workers computing the inputs in flight during the capture) against the same pipeline with
    /// the sequential map.
    /// </summary>
    /// <param name="quick">Fewer captures.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> CaptureStallAsync(bool quick, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        int spins = Work.Calibrate(TimeSpan.FromMicroseconds(200));
        int captures = quick ? 150 : 400;
        Dataset<long[]> Build(int parallelism) =>
            Dataset.Range(0, long.MaxValue).Map(x => Work.Spin(x, spins), parallelism).Shuffle(1024, 3).Batch(BatchSize);

        // The two alternate, with a capture after every batch (the hook's worst case); median over all captures.
        var parallel = new List<double>(captures);
        var sequential = new List<double>(captures);
        await using ICheckpointableIterator<long[]> withParallelMap = Build(2).CreateIterator();
        await using ICheckpointableIterator<long[]> withSequentialMap = Build(1).CreateIterator();
        int inFlight = 0;
        for (int i = 0; i < 40 + captures; i++)
        {
            (double a, bool version2) = await StepAndCaptureAsync(withParallelMap);
            (double b, _) = await StepAndCaptureAsync(withSequentialMap);
            if (i >= 40)
            {
                parallel.Add(a);
                sequential.Add(b);
                inFlight += version2 ? 1 : 0;
            }
        }

        double oursUs = Harness.Median(parallel);
        double baseUs = Harness.Median(sequential);
        log.WriteLine($"  capture stall: {oursUs:0.0} µs with a parallel map in flight ({inFlight} of {captures} captures held inputs in flight), {baseUs:0.0} µs with the sequential map");
        return new BenchmarkResult(
            "8c. capture stall, parallel map (p=2) in flight, vs sequential map",
            oursUs,
            baseUs,
            "µs",
            Goal.AtMost(2.0),
            $"map(~200 µs)-shuffle(1024)-batch(32); CaptureState after every batch, median of {captures}; {inFlight} with inputs in flight");

        static async Task<(double Microseconds, bool Version2)> StepAndCaptureAsync(ICheckpointableIterator<long[]> iterator)
        {
            if (!await iterator.MoveNextAsync())
            {
                throw new InvalidOperationException("The endless pipeline ended.");
            }

            long start = Stopwatch.GetTimestamp();
            using ICheckpointSnapshot snapshot = iterator.CaptureState();
            double elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            var prefix = new MemoryStream();
            await snapshot.WriteToAsync(prefix);
            return (elapsed, BitConverter.ToInt32(prefix.GetBuffer(), 4) == 2);
        }
    }

    /// <summary>
    /// 8e (reported): the stall of a capture of prefetch(2) over an upstream whose every element is a 20 ms read, taken
    /// right after an element, while the producer waits in the next read, against the 20 ms of that read.
    /// </summary>
    /// <param name="quick">Fewer captures.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> PrefetchCaptureStallAsync(bool quick, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        using var folder = new TempDirectory("bench-prefetch-stall");
        var local = new LocalInputStateStore(folder.Combine("store"));
        int captures = quick ? 30 : 80;
        for (int i = 0; i < captures + 10; i++)
        {
            await local.WriteAsync($"items/{i:D4}", new MemoryStream(BitConverter.GetBytes((long)i)), WriteCondition.None);
        }

        // Whole objects: every element is an open and reads of its own, each 20 ms.
        var store = new LatencyStore(local, TimeSpan.FromMilliseconds(20));
        await using ICheckpointableIterator<byte[]> iterator = Dataset.StoreObjects(store, "items/", StoreObjectFormat.WholeObject).Prefetch(2).CreateIterator();
        var stalls = new List<double>(captures);
        for (int i = 0; i < captures; i++)
        {
            if (!await iterator.MoveNextAsync())
            {
                throw new InvalidOperationException("Ran out of objects.");
            }

            long start = Stopwatch.GetTimestamp();
            using ICheckpointSnapshot snapshot = iterator.CaptureState();
            stalls.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        double median = Harness.Median(stalls);
        log.WriteLine($"  prefetch capture over a 20 ms upstream: median stall {median:0.000} ms, max {stalls.Max():0.000} ms");
        return new BenchmarkResult(
            "8e. prefetch capture stall, 20 ms upstream read, vs the read",
            median,
            20.0,
            "ms",
            Goal.AtMost(0.1),
            $"median of {captures} captures right after an element; the capture cancels the read under way (max {stalls.Max():0.00} ms)");
    }

    /// <summary>8d: <c>Dataset.TFRecords</c> against a hand-written reader of the same files with the same CRC checks.</summary>
    /// <param name="quick">Less data and fewer runs.</param>
    /// <param name="log">Progress output.</param>
    /// <returns>The result.</returns>
    public static async Task<BenchmarkResult> TFRecordReadAsync(bool quick, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        using var folder = new TempDirectory("bench-tfrecord");
        int files = 4;
        int recordsPerFile = quick ? 12_000 : 40_000;
        var random = new Random(11);
        string[] paths = new string[files];
        long bytes = 0;
        for (int f = 0; f < files; f++)
        {
            paths[f] = folder.Combine($"part-{f}.tfrecord");
            byte[][] records = new byte[recordsPerFile][];
            for (int r = 0; r < recordsPerFile; r++)
            {
                records[r] = new byte[random.Next(200, 2000)];
                random.NextBytes(records[r]);
                bytes += records[r].Length + 16;
            }

            TFRecordWriter.WriteAll(paths[f], records);
        }

        long ours = await ReadOursAsync(paths);
        long hand = HandWrittenReader.ReadAll(paths);
        if (ours != hand)
        {
            throw new InvalidOperationException($"The pipeline and the hand-written reader read different records (checksums {ours} and {hand}).");
        }

        (TimeSpan oursTime, TimeSpan handTime) = await Harness.MeasurePairAsync(
            new RunCounts(2, quick ? 7 : 15),
            _ => ReadOursAsync(paths),
            _ => Task.FromResult(HandWrittenReader.ReadAll(paths)));
        double mib = bytes / (1024.0 * 1024.0);
        double oursRate = mib / oursTime.TotalSeconds;
        double handRate = mib / handTime.TotalSeconds;
        log.WriteLine($"  TFRecord read: {oursRate:0} MiB/s, hand-written {handRate:0} MiB/s ({mib:0} MiB, {files * recordsPerFile} records)");
        return new BenchmarkResult(
            "8d. TFRecord read (both CRCs) vs hand-written reader",
            oursRate,
            handRate,
            "MiB/s",
            Goal.AtLeast(0.8),
            $"{files} files, {mib:0} MiB, records of 200-2000 bytes, in the page cache; same records checked first");

        static async Task<long> ReadOursAsync(string[] paths)
        {
            long checksum = 0;
            await using ICheckpointableIterator<byte[]> iterator = Dataset.TFRecords(paths).CreateIterator();
            while (await iterator.MoveNextAsync())
            {
                byte[] record = iterator.Current;
                checksum = unchecked((checksum * 31) + record.Length + record[0]);
            }

            return checksum;
        }
    }

    private static async Task CheckSameAsync<T>(Dataset<T[]> reference, Dataset<T[]> candidate, string what)
    {
        long a = await ChecksumAsync(reference);
        long b = await ChecksumAsync(candidate);
        if (a != b)
        {
            throw new InvalidOperationException($"{what} yield different batches (checksums {a} and {b}): the comparison would not be of the same work.");
        }
    }

    private static async Task<long> ChecksumAsync<T>(Dataset<T[]> dataset)
    {
        long checksum = 0;
        await using ICheckpointableIterator<T[]> iterator = dataset.CreateIterator();
        while (await iterator.MoveNextAsync())
        {
            foreach (T element in iterator.Current)
            {
                checksum = unchecked((checksum * 31) + (element is byte[] bytes ? bytes.Length + BinaryPrimitives.ReadInt32LittleEndian(bytes) : element!.GetHashCode()));
            }
        }

        return checksum;
    }

    private static async Task ConsumeAsync<T>(Dataset<T> dataset)
    {
        await using ICheckpointableIterator<T> iterator = dataset.CreateIterator();
        while (await iterator.MoveNextAsync())
        {
        }
    }

    /// <summary>A CPU-bound function of a calibrated duration (an xorshift loop the JIT cannot drop).</summary>
    private static class Work
    {
        public static long Spin(long x, int spins)
        {
            ulong state = (ulong)x | 1;
            for (int i = 0; i < spins; i++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
            }

            return (long)(state >> 1);
        }

        public static int Calibrate(TimeSpan target)
        {
            int spins = 10_000;
            Spin(1, spins);
            while (true)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < 20; i++)
                {
                    Spin(i, spins);
                }

                TimeSpan each = Stopwatch.GetElapsedTime(start) / 20;
                if (each >= target / 4)
                {
                    return (int)(spins * (target / each));
                }

                spins *= 2;
            }
        }
    }

    /// <summary>A plain TFRecord reader: a buffered FileStream, both masked CRC-32Cs checked, one array per record.</summary>
    private static class HandWrittenReader
    {
        public static long ReadAll(string[] paths)
        {
            long checksum = 0;
            byte[] header = new byte[12];
            byte[] footer = new byte[4];
            foreach (string path in paths)
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
                while (file.ReadAtLeast(header, 12, throwOnEndOfStream: false) == 12)
                {
                    if (BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8)) != Masked(header.AsSpan(0, 8)))
                    {
                        throw new InvalidDataException("length CRC");
                    }

                    byte[] record = new byte[(int)BinaryPrimitives.ReadUInt64LittleEndian(header)];
                    file.ReadExactly(record);
                    file.ReadExactly(footer);
                    if (BinaryPrimitives.ReadUInt32LittleEndian(footer) != Masked(record))
                    {
                        throw new InvalidDataException("data CRC");
                    }

                    checksum = unchecked((checksum * 31) + record.Length + record[0]);
                }
            }

            return checksum;
        }

        private static uint Masked(ReadOnlySpan<byte> data)
        {
            uint crc = uint.MaxValue;
            int i = 0;
            for (; i + 8 <= data.Length; i += 8)
            {
                crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
            }

            for (; i < data.Length; i++)
            {
                crc = BitOperations.Crc32C(crc, data[i]);
            }

            crc = ~crc;
            return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
        }
    }

    /// <summary>A store that waits a fixed time before every read: the open of an object and every read of its content.</summary>
    private sealed class LatencyStore(IInputStateStore inner, TimeSpan latency) : IInputStateStore
    {
        private long _reads;

        public long Reads => Interlocked.Read(ref _reads);

        public string ProviderName => inner.ProviderName;

        public Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(key, content, condition, cancellationToken);

        public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
        {
            await WaitAsync(cancellationToken);
            StoreReadResult? result = await inner.ReadAsync(key, offset, cancellationToken);
            return result is null ? null : new StoreReadResult(new SlowStream(result.Content, this), result.Info, result.Offset);
        }

        public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default) =>
            inner.DeleteAsync(key, ifVersion, cancellationToken);

        private Task WaitAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return Task.Delay(latency, cancellationToken);
        }

        private sealed class SlowStream(Stream content, LatencyStore owner) : Stream
        {
            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                await owner.WaitAsync(cancellationToken);
                return await content.ReadAsync(buffer, cancellationToken);
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    content.Dispose();
                }

                base.Dispose(disposing);
            }
        }
    }
}
