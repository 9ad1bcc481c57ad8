using System.Security.Cryptography;
using System.Text;
using CsCheck;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>A randomly generated pipeline of <see cref="long"/> elements, buildable again and again, printable when a property fails.</summary>
public abstract record Spec
{
    public abstract Dataset<long> Build(string folder);

    public abstract bool HasPrefetch { get; }
}

public sealed record RangeSpec(long Start, int Length, long Step) : Spec
{
    public override Dataset<long> Build(string folder) => Dataset.Range(Start, Start + (Length * Step), Step);

    public override bool HasPrefetch => false;
}

public sealed record ListSpec(long[] Items) : Spec
{
    public override Dataset<long> Build(string folder) => Dataset.FromList(Items);

    public override bool HasPrefetch => false;

    public override string ToString() => $"ListSpec([{string.Join(",", Items)}])";
}

public sealed record IndexedSpec(int Count, ulong Seed, int Epochs) : Spec
{
    public override Dataset<long> Build(string folder) =>
        Dataset.Indexed(RandomAccessSource.FromList(Enumerable.Range(0, Count).Select(i => (long)i * 3).ToArray()), Seed, epochs: Epochs);

    public override bool HasPrefetch => false;
}

/// <summary>Record files of 8-byte values, decoded back to longs.</summary>
public sealed record RecordsSpec(long[][] Files) : Spec
{
    public override Dataset<long> Build(string folder)
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
    public override Dataset<long> Build(string folder)
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

public sealed record MapSpec(Spec Input, long Multiply, long Add) : Spec
{
    public override Dataset<long> Build(string folder)
    {
        long m = Multiply;
        long a = Add;
        return Input.Build(folder).Map(x => unchecked((x * m) + a));
    }

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record FilterSpec(Spec Input, int Modulus, int Remainder) : Spec
{
    public override Dataset<long> Build(string folder)
    {
        int mod = Modulus;
        int rem = Remainder;
        return Input.Build(folder).Filter(x => ((x % mod) + mod) % mod != rem);
    }

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record BatchSpec(Spec Input, int Size, bool Drop) : Spec
{
    public override Dataset<long> Build(string folder) =>
        Input.Build(folder).Batch(Size, Drop).Map(batch => unchecked((batch.Aggregate(17L, (h, x) => (h * 31) + x) * 8) + batch.Length));

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record ShuffleSpec(Spec Input, int Buffer, ulong Seed, bool Reshuffle) : Spec
{
    public override Dataset<long> Build(string folder) => Input.Build(folder).Shuffle(Buffer, Seed, Reshuffle);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record RepeatSpec(Spec Input, int Count) : Spec
{
    public override Dataset<long> Build(string folder) => Input.Build(folder).Repeat(Count);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record TakeSpec(Spec Input, int Count) : Spec
{
    public override Dataset<long> Build(string folder) => Input.Build(folder).Take(Count);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record SkipSpec(Spec Input, int Count) : Spec
{
    public override Dataset<long> Build(string folder) => Input.Build(folder).Skip(Count);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record ShardSpec(Spec Input, int Count, int Index) : Spec
{
    public override Dataset<long> Build(string folder) => Input.Build(folder).Shard(Count, Index);

    public override bool HasPrefetch => Input.HasPrefetch;
}

public sealed record PrefetchSpec(Spec Input, int Buffer) : Spec
{
    public override Dataset<long> Build(string folder) => Input.Build(folder).Prefetch(Buffer);

    public override bool HasPrefetch => true;
}

/// <summary>Each element x opens a small range (optionally shuffled, optionally prefetched) that depends on x.</summary>
public sealed record InterleaveSpec(Spec Input, int Cycle, int Block, int InnerLength, bool InnerShuffle, bool InnerPrefetch) : Spec
{
    public override Dataset<long> Build(string folder)
    {
        int length = InnerLength;
        bool shuffle = InnerShuffle;
        bool prefetch = InnerPrefetch;
        return Input.Build(folder).Interleave(
            x =>
            {
                long start = unchecked(x * 1000);
                long count = ((x % length) + length) % length;
                Dataset<long> inner = Dataset.Range(start, unchecked(start + count));
                if (shuffle)
                {
                    inner = inner.Shuffle(3, unchecked((ulong)x));
                }

                return prefetch ? inner.Prefetch(2) : inner;
            },
            Cycle,
            Block);
    }

    public override bool HasPrefetch => InnerPrefetch || Input.HasPrefetch;
}

public sealed record ZipSpec(Spec First, Spec Second) : Spec
{
    public override Dataset<long> Build(string folder) => First.Build(folder).Zip(Second.Build(folder)).Map(pair => unchecked((pair.Item1 * 7919) + pair.Item2));

    public override bool HasPrefetch => First.HasPrefetch || Second.HasPrefetch;
}

public sealed record ConcatenateSpec(Spec First, Spec Second) : Spec
{
    public override Dataset<long> Build(string folder) => First.Build(folder).Concatenate(Second.Build(folder));

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
            (2, Gen.Select(inner, Gen.Int[2, 5], Gen.Int[0, 4], (i, m, r) => (Spec)new FilterSpec(i, m, r % m))),
            (3, Gen.Select(inner, Gen.Int[1, 6], Gen.Bool, (i, s, d) => (Spec)new BatchSpec(i, s, d))),
            (4, Gen.Select(inner, Gen.Int[1, 40], Gen.ULong, Gen.Bool, (i, b, s, r) => (Spec)new ShuffleSpec(i, b, s, r))),
            (3, Gen.Select(inner, Gen.Int[0, 3], (i, c) => (Spec)new RepeatSpec(i, c))),
            (2, Gen.Select(inner, Gen.Int[0, 30], (i, c) => (Spec)new TakeSpec(i, c))),
            (2, Gen.Select(inner, Gen.Int[0, 10], (i, c) => (Spec)new SkipSpec(i, c))),
            (2, Gen.Select(inner, Gen.Int[1, 4], Gen.Int[0, 3], (i, c, x) => (Spec)new ShardSpec(i, c, x % c))),
            (3, Gen.Select(inner, Gen.Int[1, 5], (i, b) => (Spec)new PrefetchSpec(i, b))),
            (3, Gen.Select(inner, Gen.Int[1, 4], Gen.Int[1, 3], Gen.Int[1, 6], Gen.Bool, Gen.Bool, (i, c, b, l, s, p) => (Spec)new InterleaveSpec(i, c, b, l, s, p))),
            (2, Gen.Select(inner, inner, (a, b) => (Spec)new ZipSpec(a, b))),
            (2, Gen.Select(inner, inner, (a, b) => (Spec)new ConcatenateSpec(a, b))));
    }
}
