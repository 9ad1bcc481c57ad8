using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace InputPipeline.Checkpointing.Pipeline.Codecs;

/// <summary>A codec whose every value takes the same number of bytes; arrays of it are written without per-item lengths.</summary>
internal interface IFixedSizeCodec
{
    int Size { get; }
}

internal delegate void SpanWriter<T>(Span<byte> destination, T value);

internal delegate T SpanReader<T>(ReadOnlySpan<byte> source);

/// <summary>A fixed-size, little-endian codec of a primitive.</summary>
internal sealed class FixedSizeCodec<T>(string name, int size, SpanWriter<T> write, SpanReader<T> read) : IElementCodec<T>, IFixedSizeCodec
{
    public string Name => name;

    public int Size => size;

    public void Write(T value, IBufferWriter<byte> output)
    {
        write(output.GetSpan(size), value);
        output.Advance(size);
    }

    public T Read(ReadOnlySpan<byte> data)
    {
        if (data.Length != size)
        {
            throw new FormatException($"A {name} takes {size} bytes, not {data.Length}.");
        }

        return read(data);
    }

    public void WriteTo(Span<byte> destination, T value) => write(destination, value);

    public T ReadFrom(ReadOnlySpan<byte> source) => read(source);
}

/// <summary>UTF-8 strings; a leading byte tells null (0) from a value (1).</summary>
internal sealed class Utf8StringCodec : IElementCodec<string>
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    public string Name => "string";

    public void Write(string value, IBufferWriter<byte> output)
    {
        if (value is null)
        {
            output.GetSpan(1)[0] = 0;
            output.Advance(1);
            return;
        }

        int length = Encoding.UTF8.GetByteCount(value);
        Span<byte> span = output.GetSpan(length + 1);
        span[0] = 1;
        Encoding.UTF8.GetBytes(value, span[1..]);
        output.Advance(length + 1);
    }

    public string Read(ReadOnlySpan<byte> data) => data.Length == 0
        ? throw new FormatException("A string needs at least its null flag.")
        : data[0] switch
        {
            0 when data.Length == 1 => null!,
            1 => Strict.GetString(data[1..]),
            _ => throw new FormatException("Bad string null flag."),
        };
}

/// <summary>Byte arrays, copied as they are; a leading byte tells null (0) from a value (1).</summary>
internal sealed class RawBytesCodec : IElementCodec<byte[]>
{
    public string Name => "bytes";

    public void Write(byte[] value, IBufferWriter<byte> output)
    {
        if (value is null)
        {
            output.GetSpan(1)[0] = 0;
            output.Advance(1);
            return;
        }

        Span<byte> span = output.GetSpan(value.Length + 1);
        span[0] = 1;
        value.CopyTo(span[1..]);
        output.Advance(value.Length + 1);
    }

    public byte[] Read(ReadOnlySpan<byte> data) => data.Length == 0
        ? throw new FormatException("A byte array needs at least its null flag.")
        : data[0] switch
        {
            0 when data.Length == 1 => null!,
            1 => data[1..].ToArray(),
            _ => throw new FormatException("Bad byte array null flag."),
        };
}

/// <summary>Arrays of any codec's type: a null flag, an Int32 count, then the items (fixed-size items unframed, others framed by an Int32 length).</summary>
internal sealed class ArrayCodec<T>(IElementCodec<T> item) : IElementCodec<T[]>
{
    public string Name { get; } = $"array<{item.Name}>";

    public void Write(T[] value, IBufferWriter<byte> output)
    {
        if (value is null)
        {
            output.GetSpan(1)[0] = 0;
            output.Advance(1);
            return;
        }

        Span<byte> head = output.GetSpan(5);
        head[0] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(head[1..], value.Length);
        output.Advance(5);
        if (item is FixedSizeCodec<T> fixedSize)
        {
            int size = fixedSize.Size;
            foreach (T element in value)
            {
                fixedSize.WriteTo(output.GetSpan(size), element);
                output.Advance(size);
            }

            return;
        }

        var scratch = new ArrayBufferWriter<byte>();
        foreach (T element in value)
        {
            Framing.WriteFramed(output, item, element, scratch);
        }
    }

    public T[] Read(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            throw new FormatException("An array needs at least its null flag.");
        }

        if (data[0] == 0 && data.Length == 1)
        {
            return null!;
        }

        if (data[0] != 1 || data.Length < 5)
        {
            throw new FormatException("Bad array header.");
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(data[1..]);
        ReadOnlySpan<byte> rest = data[5..];
        if (count < 0)
        {
            throw new FormatException($"Impossible array length {count}.");
        }

        if (item is FixedSizeCodec<T> fixedSize)
        {
            int size = fixedSize.Size;
            if ((long)count * size != rest.Length)
            {
                throw new FormatException($"An array of {count} {item.Name} takes {(long)count * size} bytes, not {rest.Length}.");
            }

            var fixedResult = new T[count];
            for (int i = 0; i < count; i++)
            {
                fixedResult[i] = fixedSize.ReadFrom(rest.Slice(i * size, size));
            }

            return fixedResult;
        }

        if (count > rest.Length / 4)
        {
            throw new FormatException($"An array of {count} framed items needs at least {count * 4L} bytes, {rest.Length} are left.");
        }

        var result = new T[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = Framing.ReadFramed(ref rest, item);
        }

        return rest.Length == 0 ? result : throw new FormatException("Bytes left after the last array item.");
    }
}

/// <summary>Pairs: each component framed by an Int32 length.</summary>
internal sealed class TupleCodec<T1, T2>(IElementCodec<T1> first, IElementCodec<T2> second) : IElementCodec<(T1, T2)>
{
    public string Name { get; } = $"tuple<{first.Name},{second.Name}>";

    public void Write((T1, T2) value, IBufferWriter<byte> output)
    {
        var scratch = new ArrayBufferWriter<byte>();
        Framing.WriteFramed(output, first, value.Item1, scratch);
        Framing.WriteFramed(output, second, value.Item2, scratch);
    }

    public (T1, T2) Read(ReadOnlySpan<byte> data)
    {
        T1 a = Framing.ReadFramed(ref data, first);
        T2 b = Framing.ReadFramed(ref data, second);
        return data.Length == 0 ? (a, b) : throw new FormatException("Bytes left after the last tuple item.");
    }
}

/// <summary>Triples: each component framed by an Int32 length.</summary>
internal sealed class TupleCodec<T1, T2, T3>(IElementCodec<T1> first, IElementCodec<T2> second, IElementCodec<T3> third) : IElementCodec<(T1, T2, T3)>
{
    public string Name { get; } = $"tuple<{first.Name},{second.Name},{third.Name}>";

    public void Write((T1, T2, T3) value, IBufferWriter<byte> output)
    {
        var scratch = new ArrayBufferWriter<byte>();
        Framing.WriteFramed(output, first, value.Item1, scratch);
        Framing.WriteFramed(output, second, value.Item2, scratch);
        Framing.WriteFramed(output, third, value.Item3, scratch);
    }

    public (T1, T2, T3) Read(ReadOnlySpan<byte> data)
    {
        T1 a = Framing.ReadFramed(ref data, first);
        T2 b = Framing.ReadFramed(ref data, second);
        T3 c = Framing.ReadFramed(ref data, third);
        return data.Length == 0 ? (a, b, c) : throw new FormatException("Bytes left after the last tuple item.");
    }
}

internal static class Framing
{
    public static void WriteFramed<T>(IBufferWriter<byte> output, IElementCodec<T> codec, T value, ArrayBufferWriter<byte> scratch)
    {
        scratch.ResetWrittenCount();
        codec.Write(value, scratch);
        ReadOnlySpan<byte> bytes = scratch.WrittenSpan;
        Span<byte> span = output.GetSpan(bytes.Length + 4);
        BinaryPrimitives.WriteInt32LittleEndian(span, bytes.Length);
        bytes.CopyTo(span[4..]);
        output.Advance(bytes.Length + 4);
    }

    public static T ReadFramed<T>(ref ReadOnlySpan<byte> data, IElementCodec<T> codec)
    {
        if (data.Length < 4)
        {
            throw new FormatException("A framed item is cut short.");
        }

        int length = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (length < 0 || length > data.Length - 4)
        {
            throw new FormatException($"A framed item claims {length} bytes, {data.Length - 4} are left.");
        }

        T value = codec.Read(data.Slice(4, length));
        data = data[(4 + length)..];
        return value;
    }
}
