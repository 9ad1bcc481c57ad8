using System.Buffers.Binary;
using System.Text.Json.Serialization.Metadata;
using InputPipeline.Checkpointing.Pipeline.Codecs;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// The built-in element codecs, and factories for arrays, tuples and JSON. Numbers are little-endian; strings are UTF-8;
/// <see langword="null"/> strings, byte arrays and arrays are kept as null.
/// </summary>
public static class ElementCodecs
{
    /// <summary>Gets the codec of <see cref="bool"/> (one byte).</summary>
    public static IElementCodec<bool> BooleanCodec { get; } = new FixedSizeCodec<bool>("bool", 1, static (s, v) => s[0] = v ? (byte)1 : (byte)0, static s => s[0] switch
    {
        0 => false,
        1 => true,
        _ => throw new FormatException("A bool byte is neither 0 nor 1."),
    });

    /// <summary>Gets the codec of <see cref="byte"/>.</summary>
    public static IElementCodec<byte> ByteCodec { get; } = new FixedSizeCodec<byte>("uint8", 1, static (s, v) => s[0] = v, static s => s[0]);

    /// <summary>Gets the codec of <see cref="sbyte"/>.</summary>
    public static IElementCodec<sbyte> SByteCodec { get; } = new FixedSizeCodec<sbyte>("int8", 1, static (s, v) => s[0] = unchecked((byte)v), static s => unchecked((sbyte)s[0]));

    /// <summary>Gets the codec of <see cref="short"/>.</summary>
    public static IElementCodec<short> Int16Codec { get; } = new FixedSizeCodec<short>("int16", 2, static (s, v) => BinaryPrimitives.WriteInt16LittleEndian(s, v), static s => BinaryPrimitives.ReadInt16LittleEndian(s));

    /// <summary>Gets the codec of <see cref="ushort"/>.</summary>
    public static IElementCodec<ushort> UInt16Codec { get; } = new FixedSizeCodec<ushort>("uint16", 2, static (s, v) => BinaryPrimitives.WriteUInt16LittleEndian(s, v), static s => BinaryPrimitives.ReadUInt16LittleEndian(s));

    /// <summary>Gets the codec of <see cref="int"/>.</summary>
    public static IElementCodec<int> Int32Codec { get; } = new FixedSizeCodec<int>("int32", 4, static (s, v) => BinaryPrimitives.WriteInt32LittleEndian(s, v), static s => BinaryPrimitives.ReadInt32LittleEndian(s));

    /// <summary>Gets the codec of <see cref="uint"/>.</summary>
    public static IElementCodec<uint> UInt32Codec { get; } = new FixedSizeCodec<uint>("uint32", 4, static (s, v) => BinaryPrimitives.WriteUInt32LittleEndian(s, v), static s => BinaryPrimitives.ReadUInt32LittleEndian(s));

    /// <summary>Gets the codec of <see cref="long"/>.</summary>
    public static IElementCodec<long> Int64Codec { get; } = new FixedSizeCodec<long>("int64", 8, static (s, v) => BinaryPrimitives.WriteInt64LittleEndian(s, v), static s => BinaryPrimitives.ReadInt64LittleEndian(s));

    /// <summary>Gets the codec of <see cref="ulong"/>.</summary>
    public static IElementCodec<ulong> UInt64Codec { get; } = new FixedSizeCodec<ulong>("uint64", 8, static (s, v) => BinaryPrimitives.WriteUInt64LittleEndian(s, v), static s => BinaryPrimitives.ReadUInt64LittleEndian(s));

    /// <summary>Gets the codec of <see cref="float"/> (IEEE 754 bits, so NaN payloads and -0 survive).</summary>
    public static IElementCodec<float> SingleCodec { get; } = new FixedSizeCodec<float>("float32", 4, static (s, v) => BinaryPrimitives.WriteSingleLittleEndian(s, v), static s => BinaryPrimitives.ReadSingleLittleEndian(s));

    /// <summary>Gets the codec of <see cref="double"/> (IEEE 754 bits).</summary>
    public static IElementCodec<double> DoubleCodec { get; } = new FixedSizeCodec<double>("float64", 8, static (s, v) => BinaryPrimitives.WriteDoubleLittleEndian(s, v), static s => BinaryPrimitives.ReadDoubleLittleEndian(s));

    /// <summary>Gets the codec of <see cref="Half"/>.</summary>
    public static IElementCodec<Half> HalfCodec { get; } = new FixedSizeCodec<Half>("float16", 2, static (s, v) => BinaryPrimitives.WriteHalfLittleEndian(s, v), static s => BinaryPrimitives.ReadHalfLittleEndian(s));

    /// <summary>Gets the codec of <see cref="char"/> (a UTF-16 code unit).</summary>
    public static IElementCodec<char> CharCodec { get; } = new FixedSizeCodec<char>("char", 2, static (s, v) => BinaryPrimitives.WriteUInt16LittleEndian(s, v), static s => (char)BinaryPrimitives.ReadUInt16LittleEndian(s));

    /// <summary>Gets the codec of <see cref="decimal"/> (its four 32-bit parts).</summary>
    public static IElementCodec<decimal> DecimalCodec { get; } = new FixedSizeCodec<decimal>("decimal", 16, static (s, v) =>
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(v, bits);
        for (int i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(s[(i * 4)..], bits[i]);
        }
    }, static s =>
    {
        Span<int> bits = stackalloc int[4];
        for (int i = 0; i < 4; i++)
        {
            bits[i] = BinaryPrimitives.ReadInt32LittleEndian(s[(i * 4)..]);
        }

        return new decimal(bits);
    });

    /// <summary>Gets the codec of <see cref="Guid"/>.</summary>
    public static IElementCodec<Guid> GuidCodec { get; } = new FixedSizeCodec<Guid>("guid", 16, static (s, v) => v.TryWriteBytes(s), static s => new System.Guid(s[..16]));

    /// <summary>Gets the codec of <see cref="string"/> (UTF-8, null kept).</summary>
    public static IElementCodec<string> StringCodec { get; } = new Utf8StringCodec();

    /// <summary>Gets the codec of <see cref="byte"/> arrays (the bytes as they are, null kept).</summary>
    public static IElementCodec<byte[]> BytesCodec { get; } = new RawBytesCodec();

    /// <summary>Creates the codec of arrays of <typeparamref name="T"/> from the codec of one item.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="item">The item codec.</param>
    /// <returns>A codec named <c>array&lt;item&gt;</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is null.</exception>
    public static IElementCodec<T[]> ArrayOf<T>(IElementCodec<T> item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return new ArrayCodec<T>(item);
    }

    /// <summary>Creates the codec of pairs from the codecs of their components (the codec <see cref="Dataset{T}.Zip{TOther}"/> uses).</summary>
    /// <typeparam name="T1">The first component's type.</typeparam>
    /// <typeparam name="T2">The second component's type.</typeparam>
    /// <param name="first">The first component's codec.</param>
    /// <param name="second">The second component's codec.</param>
    /// <returns>A codec named <c>tuple&lt;first,second&gt;</c>.</returns>
    /// <exception cref="ArgumentNullException">A codec is null.</exception>
    public static IElementCodec<(T1, T2)> TupleOf<T1, T2>(IElementCodec<T1> first, IElementCodec<T2> second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return new TupleCodec<T1, T2>(first, second);
    }

    /// <summary>Creates the codec of triples from the codecs of their components.</summary>
    /// <typeparam name="T1">The first component's type.</typeparam>
    /// <typeparam name="T2">The second component's type.</typeparam>
    /// <typeparam name="T3">The third component's type.</typeparam>
    /// <param name="first">The first component's codec.</param>
    /// <param name="second">The second component's codec.</param>
    /// <param name="third">The third component's codec.</param>
    /// <returns>A codec named <c>tuple&lt;first,second,third&gt;</c>.</returns>
    /// <exception cref="ArgumentNullException">A codec is null.</exception>
    public static IElementCodec<(T1, T2, T3)> TupleOf<T1, T2, T3>(IElementCodec<T1> first, IElementCodec<T2> second, IElementCodec<T3> third)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(third);
        return new TupleCodec<T1, T2, T3>(first, second, third);
    }

    /// <summary>Creates a codec that writes elements as UTF-8 JSON through <paramref name="typeInfo"/> (trimming and AOT safe with a source-generated context).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="typeInfo">The type's JSON metadata, for example <c>MyJsonContext.Default.Sample</c>.</param>
    /// <returns>A codec named <c>json:&lt;full type name&gt;</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="typeInfo"/> is null.</exception>
    public static IElementCodec<T> Json<T>(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return new JsonElementCodec<T>(typeInfo);
    }

    /// <summary>The built-in codecs by type: the primitives, string, byte arrays, and one-dimensional arrays of those.</summary>
    internal static IReadOnlyDictionary<Type, object> BuiltIn { get; } = CreateBuiltIn();

    private static Dictionary<Type, object> CreateBuiltIn()
    {
        var map = new Dictionary<Type, object>();
        void Add<T>(IElementCodec<T> codec)
        {
            map[typeof(T)] = codec;
            map[typeof(T[])] = new ArrayCodec<T>(codec);
        }

        Add(BooleanCodec);
        Add(SByteCodec);
        Add(Int16Codec);
        Add(UInt16Codec);
        Add(Int32Codec);
        Add(UInt32Codec);
        Add(Int64Codec);
        Add(UInt64Codec);
        Add(SingleCodec);
        Add(DoubleCodec);
        Add(HalfCodec);
        Add(CharCodec);
        Add(DecimalCodec);
        Add(GuidCodec);
        Add(StringCodec);
        Add(BytesCodec);
        map[typeof(byte)] = ByteCodec;
        map[typeof(byte[])] = BytesCodec;
        map[typeof(byte[][])] = new ArrayCodec<byte[]>(BytesCodec);
        return map;
    }
}
