using System.Security.Cryptography;
using System.Text;
using CsCheck;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>A randomly generated pipeline of <see cref="long"/> elements, buildable again and again, printable when a property fails.</summary>
public abstract record Spec
{
    public Dataset<long> Build(string folder) => Build(folder, sequential: false);

    /// <summary>Builds the pipeline; <paramref name="sequential"/> builds every parallel operator with parallelism 1.</summary>
    public abstract Dataset<long> Build(string folder, bool sequential);

    /// <summary>Gets whether background work (a prefetch, a parallel operator) makes the saved bytes depend on timing.</summary>
    public abstract bool HasPrefetch { get; }
}

public sealed record RangeSpec(long Start, int Length, long Step) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Dataset.Range(Start, Start + (Length * Step), Step);

    public override bool HasPrefetch => false;
}

public sealed record ListSpec(long[] Items) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Dataset.FromList(Items);

    public override bool HasPrefetch => false;

    public override string ToString() => $"ListSpec([{string.Join(",", Items)}])";
}

public sealed record IndexedSpec(int Count, ulong Seed, int Epochs) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) =>
        Dataset.Indexed(RandomAccessSource.FromList(Enumerable.Range(0, Count).Select(i => (long)i * 3).ToArray()), Seed, epochs: Epochs);

    public override bool HasPrefetch => false;
}

/// <summary>Record files of 8-byte values, decoded back to longs.</summary>
public sealed record RecordsSpec(long[][] Files) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential)
    {
        var paths = new List<string>();
        foreach (long[] values in Files)
        {
            string path = Path.Combine(folder, "rec-" + Hash(values) + ".bin");
            if (!File.Exists(path))
            {
                RecordFileWriter.WriteAll(path, values.Select(BitConverter.GetBytes));
            }

            paths.Add(path);
        }

        return Dataset.Records(paths).Map(bytes => BitConverter.ToInt64(bytes));
    }

    public override bool HasPrefetch => false;

    public override string ToString() => $"RecordsSpec({string.Join(" / ", Files.Select(f => "[" + string.Join(",", f) + "]"))})";

    internal static string Hash(long[] values) =>
        Convert.ToHexString(SHA256.HashData(values.SelectMany(BitConverter.GetBytes).ToArray()))[..16];
}

/// <summary>Text files of numbers, one per line, with \n or \r\n line ends, parsed back.</summary>
public sealed record TextSpec(long[][] Files, bool CrLf) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential)
    {
        var paths = new List<string>();
        foreach (long[] values in Files)
        {
            string path = Path.Combine(folder, $"txt-{RecordsSpec.Hash(values)}-{(CrLf ? "crlf" : "lf")}.txt");
            if (!File.Exists(path))
            {
                string text = string.Concat(values.Select(v => v + (CrLf ? "\r\n" : "\n")));
                string temp = path + "." + Guid.NewGuid().ToString("N");
                File.WriteAllText(temp, text, new UTF8Encoding(false));
                File.Move(temp, path, overwrite: true);
            }

            paths.Add(path);
        }

        return Dataset.TextLines(paths).Map(long.Parse);
    }

    public override bool HasPrefetch => false;

    public override string ToString() => $"TextSpec({string.Join(" / ", Files.Select(f => "[" + string.Join(",", f) + "]"))}, crlf={CrLf})";
}

/// <summary>A map, parallel when <see cref="Parallelism"/> is more than 0 (then 1 is the parallel overload at parallelism 1).</summary>
public sealed record MapSpec(Spec Input, long Multiply, long Add, int Parallelism = 0) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential)
    {
        long m = Multiply;
        long a = Add;
        Dataset<long> input = Input.Build(folder, sequential);
        return Parallelism == 0 || sequential ? input.Map(x => unchecked((x * m) + a)) : input.Map(x => unchecked((x * m) + a), Parallelism);
    }

    public override bool HasPrefetch => Parallelism > 1 || Input.HasPrefetch;
}

public sealed record FilterSpec(Spec Input, int Modulus, int Remainder, int Parallelism = 0) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential)
    {
        int mod = Modulus;
        int rem = Remainder;
        Dataset<long> input = Input.Build(folder, sequential);
        return Parallelism == 0 || sequential
            ? input.Filter(x => ((x % mod) + mod) % mod != rem)
            : input.Filter(x => ((x % mod) + mod) % mod != rem, Parallelism);
    }

    public override bool HasPrefetch => Parallelism > 1 || Input.HasPrefetch;
}

public sealed record BatchSpec(Spec Input, int Size, bool Drop) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) =>
        Input.Build(folder, sequential).Batch(Size, Drop).Map(batch => unchecked((batch.Aggregate(17L, (h, x) => (h * 31) + x) * 8) + batch.Length));

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record ShuffleSpec(Spec Input, int Buffer, ulong Seed, bool Reshuffle) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Input.Build(folder, sequential).Shuffle(Buffer, Seed, Reshuffle);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record RepeatSpec(Spec Input, int Count) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Input.Build(folder, sequential).Repeat(Count);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record TakeSpec(Spec Input, int Count) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Input.Build(folder, sequential).Take(Count);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record SkipSpec(Spec Input, int Count) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Input.Build(folder, sequential).Skip(Count);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record ShardSpec(Spec Input, int Count, int Index) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Input.Build(folder, sequential).Shard(Count, Index);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record PrefetchSpec(Spec Input, int Buffer) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => Input.Build(folder, sequential).Prefetch(Buffer);

    public override bool HasPrefetch => true;
}

/// <summary>Each element x opens a small range (optionally shuffled, optionally prefetched) that depends on x; parallel when <see cref="Parallelism"/> is more than 0.</summary>
public sealed record InterleaveSpec(Spec Input, int Cycle, int Block, int InnerLength, bool InnerShuffle, bool InnerPrefetch, int Parallelism = 0) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential)
    {
        int length = InnerLength;
        bool shuffle = InnerShuffle;
        bool prefetch = InnerPrefetch;
        Dataset<long> Open(long x)
        {
            long start = unchecked(x * 1000);
            long count = ((x % length) + length) % length;
            Dataset<long> inner = Dataset.Range(start, unchecked(start + count));
            if (shuffle)
            {
                inner = inner.Shuffle(3, unchecked((ulong)x));
            }

            return prefetch ? inner.Prefetch(2) : inner;
        }

        Dataset<long> input = Input.Build(folder, sequential);
        return Parallelism == 0 || sequential ? input.Interleave(Open, Cycle, Block) : input.Interleave(Open, Cycle, Block, Parallelism);
    }

    public override bool HasPrefetch => InnerPrefetch || Parallelism > 1 || Input.HasPrefetch;
}

public sealed record ZipSpec(Spec First, Spec Second) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => First.Build(folder, sequential).Zip(Second.Build(folder, sequential)).Map(pair => unchecked((pair.Item1 * 7919) + pair.Item2));

    public override bool HasPrefetch => First.HasPrefetch || Second.HasPrefetch;
}

public sealed record ConcatenateSpec(Spec First, Spec Second) : Spec
{
    public override Dataset<long> Build(string folder, bool sequential) => First.Build(folder, sequential).Concatenate(Second.Build(folder, sequential));

    public override bool HasPrefetch => First.HasPrefetch || Second.HasPrefetch;
}

/// <summary>CsCheck generators of random pipelines: sources of random sizes (empty included) under up to a few operators.</summary>
public static class SpecGen
{
    public static readonly Gen<Spec> Leaf = Gen.Frequency(
        (4, Gen.Select(Gen.Long[-5, 5], Gen.Int[0, 30], Gen.Long[1, 3], Gen.Bool, (start, length, step, down) => (Spec)new RangeSpec(start, length, down ? -step : step))),
        (3, Gen.Long[-50, 50].Array[0, 25].Select(items => (Spec)new ListSpec(items))),
        (2, Gen.Select(Gen.Int[0, 30], Gen.ULong, Gen.Int[1, 3], (count, seed, epochs) => (Spec)new IndexedSpec(count, seed, epochs))),
        (1, Gen.Long[-20, 20].Array[0, 8].Array[1, 3].Select(files => (Spec)new RecordsSpec(files))),
        (1, Gen.Select(Gen.Long[-20, 20].Array[0, 8].Array[1, 3], Gen.Bool, (files, crlf) => (Spec)new TextSpec(files, crlf))));

    public static Gen<Spec> Pipeline(int depth)
    {
        if (depth == 0)
        {
            return Leaf;
        }

        Gen<Spec> inner = Pipeline(depth - 1);
        return Gen.Frequency(
            (3, Leaf),
            (2, Gen.Select(inner, Gen.Long[-3, 3], Gen.Long[-10, 10], (i, m, a) => (Spec)new MapSpec(i, m, a))),
            (2, Gen.Select(inner, Gen.Long[-3, 3], Gen.Long[-10, 10], Gen.Int[1, 4], (i, m, a, p) => (Spec)new MapSpec(i, m, a, p))),
            (2, Gen.Select(inner, Gen.Int[2, 5], Gen.Int[0, 4], (i, m, r) => (Spec)new FilterSpec(i, m, r % m))),
            (1, Gen.Select(inner, Gen.Int[2, 5], Gen.Int[0, 4], Gen.Int[1, 4], (i, m, r, p) => (Spec)new FilterSpec(i, m, r % m, p))),
            (3, Gen.Select(inner, Gen.Int[1, 6], Gen.Bool, (i, s, d) => (Spec)new BatchSpec(i, s, d))),
            (4, Gen.Select(inner, Gen.Int[1, 40], Gen.ULong, Gen.Bool, (i, b, s, r) => (Spec)new ShuffleSpec(i, b, s, r))),
            (3, Gen.Select(inner, Gen.Int[0, 3], (i, c) => (Spec)new RepeatSpec(i, c))),
            (2, Gen.Select(inner, Gen.Int[0, 30], (i, c) => (Spec)new TakeSpec(i, c))),
            (2, Gen.Select(inner, Gen.Int[0, 10], (i, c) => (Spec)new SkipSpec(i, c))),
            (2, Gen.Select(inner, Gen.Int[1, 4], Gen.Int[0, 3], (i, c, x) => (Spec)new ShardSpec(i, c, x % c))),
            (3, Gen.Select(inner, Gen.Int[1, 5], (i, b) => (Spec)new PrefetchSpec(i, b))),
            (3, Gen.Select(inner, Gen.Int[1, 4], Gen.Int[1, 3], Gen.Int[1, 6], Gen.Bool, Gen.Bool, (i, c, b, l, s, p) => (Spec)new InterleaveSpec(i, c, b, l, s, p))),
            (2, Gen.Select(inner, Gen.Int[1, 4], Gen.Int[1, 3], Gen.Int[1, 6], Gen.Bool, Gen.Int[1, 4], (i, c, b, l, s, p) => (Spec)new InterleaveSpec(i, c, b, l, s, false, p))),
            (2, Gen.Select(inner, inner, (a, b) => (Spec)new ZipSpec(a, b))),
            (2, Gen.Select(inner, inner, (a, b) => (Spec)new ConcatenateSpec(a, b))));
    }
}
