using System.Buffers;
using System.Text.Json.Serialization;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

public sealed record Widget(int Id, string Name);

public sealed record Gadget(double Weight);

[JsonSerializable(typeof(Widget))]
internal sealed partial class TestJsonContext : JsonSerializerContext;

/// <summary>Element codecs: the built-ins round-trip, missing codecs fail when the pipeline is built, JSON and custom codecs plug in.</summary>
public sealed class CodecTests
{
    private static T RoundTrip<T>(IElementCodec<T> codec, T value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        codec.Write(value, buffer);
        return codec.Read(buffer.WrittenSpan);
    }

    [Fact]
    public void Primitives_RoundTrip()
    {
        Assert.True(RoundTrip(ElementCodecs.BooleanCodec, true));
        Assert.Equal((byte)200, RoundTrip(ElementCodecs.ByteCodec, (byte)200));
        Assert.Equal((sbyte)-100, RoundTrip(ElementCodecs.SByteCodec, (sbyte)-100));
        Assert.Equal((short)-12345, RoundTrip(ElementCodecs.Int16Codec, (short)-12345));
        Assert.Equal((ushort)54321, RoundTrip(ElementCodecs.UInt16Codec, (ushort)54321));
        Assert.Equal(int.MinValue, RoundTrip(ElementCodecs.Int32Codec, int.MinValue));
        Assert.Equal(uint.MaxValue, RoundTrip(ElementCodecs.UInt32Codec, uint.MaxValue));
        Assert.Equal(long.MinValue, RoundTrip(ElementCodecs.Int64Codec, long.MinValue));
        Assert.Equal(ulong.MaxValue, RoundTrip(ElementCodecs.UInt64Codec, ulong.MaxValue));
        Assert.Equal(-0.0f, RoundTrip(ElementCodecs.SingleCodec, -0.0f));
        Assert.True(double.IsNaN(RoundTrip(ElementCodecs.DoubleCodec, double.NaN)));
        Assert.Equal(Math.PI, RoundTrip(ElementCodecs.DoubleCodec, Math.PI));
        Assert.Equal((Half)1.5, RoundTrip(ElementCodecs.HalfCodec, (Half)1.5));
        Assert.Equal('Ж', RoundTrip(ElementCodecs.CharCodec, 'Ж'));
        Assert.Equal(-79228162514264337593543950335m, RoundTrip(ElementCodecs.DecimalCodec, -79228162514264337593543950335m));
        Assert.Equal(1.000m, RoundTrip(ElementCodecs.DecimalCodec, 1.000m));
        Guid guid = Guid.NewGuid();
        Assert.Equal(guid, RoundTrip(ElementCodecs.GuidCodec, guid));
    }

    [Fact]
    public void StringsBytesArraysAndTuples_RoundTrip_IncludingNulls()
    {
        Assert.Equal("héllo ✓", RoundTrip(ElementCodecs.StringCodec, "héllo ✓"));
        Assert.Equal(string.Empty, RoundTrip(ElementCodecs.StringCodec, string.Empty));
        Assert.Null(RoundTrip(ElementCodecs.StringCodec, null!));
        Assert.Equal([1, 2, 3], RoundTrip(ElementCodecs.BytesCodec, [1, 2, 3]));
        Assert.Null(RoundTrip(ElementCodecs.BytesCodec, null!));
        Assert.Equal([1L, -2L, 3L], RoundTrip(ElementCodecs.ArrayOf(ElementCodecs.Int64Codec), [1L, -2L, 3L]));
        Assert.Equal(["a", null!, ""], RoundTrip(ElementCodecs.ArrayOf(ElementCodecs.StringCodec), ["a", null!, ""]));
        Assert.Null(RoundTrip(ElementCodecs.ArrayOf(ElementCodecs.Int32Codec), null!));
        long[][] nested = [[1, 2], [], [3]];
        Assert.Equal(nested, RoundTrip(ElementCodecs.ArrayOf(ElementCodecs.ArrayOf(ElementCodecs.Int64Codec)), nested));
        Assert.Equal((5L, "x"), RoundTrip(ElementCodecs.TupleOf(ElementCodecs.Int64Codec, ElementCodecs.StringCodec), (5L, "x")));
        Assert.Equal((true, 2.5, "z"), RoundTrip(ElementCodecs.TupleOf(ElementCodecs.BooleanCodec, ElementCodecs.DoubleCodec, ElementCodecs.StringCodec), (true, 2.5, "z")));
    }

    [Fact]
    public void Codecs_RejectDamagedBytes()
    {
        Assert.ThrowsAny<Exception>(() => ElementCodecs.Int64Codec.Read([1, 2, 3]));
        Assert.ThrowsAny<Exception>(() => ElementCodecs.StringCodec.Read([7, 65]));
        Assert.ThrowsAny<Exception>(() => ElementCodecs.ArrayOf(ElementCodecs.StringCodec).Read([1, 255, 255, 255, 127]));
    }

    [Fact]
    public void Registry_KnowsTheBuiltIns_AndTheirArrays()
    {
        ElementCodecRegistry registry = ElementCodecRegistry.Default;
        Assert.Equal("int64", registry.GetCodec<long>().Name);
        Assert.Equal("array<int32>", registry.GetCodec<int[]>().Name);
        Assert.Equal("bytes", registry.GetCodec<byte[]>().Name);
        Assert.Equal("array<bytes>", registry.GetCodec<byte[][]>().Name);
        Assert.Equal("array<string>", registry.GetCodec<string[]>().Name);
        Assert.False(registry.TryGetCodec<Widget>(out _));
        Assert.False(registry.TryGetCodec<(int, string)>(out _));
    }

    [Fact]
    public void MissingCodec_FailsWhenTheBufferingOperatorIsAdded()
    {
        Dataset<Widget> widgets = Dataset.FromList([new Widget(1, "a")]);
        ElementCodecNotFoundException shuffle = Assert.Throws<ElementCodecNotFoundException>(() => widgets.Shuffle(10, 1));
        Assert.Equal(typeof(Widget), shuffle.ElementType);
        Assert.Equal("shuffle", shuffle.OperatorName);
        Assert.Contains("Widget", shuffle.Message, StringComparison.Ordinal);
        Assert.Equal("prefetch", Assert.Throws<ElementCodecNotFoundException>(() => widgets.Prefetch(2)).OperatorName);
        Assert.Equal("batch", Assert.Throws<ElementCodecNotFoundException>(() => widgets.Batch(2)).OperatorName);
        Assert.Equal("interleave", Assert.Throws<ElementCodecNotFoundException>(() => widgets.Interleave(w => Dataset.Range(0, w.Id), 2)).OperatorName);
        Assert.Throws<ElementCodecNotFoundException>(() => Dataset.Range(0, 3).Map(i => new Widget((int)i, "x")).Filter(w => true).Shuffle(4, 1));
        Assert.Throws<ElementCodecNotFoundException>(() => Dataset.Range(0, 3).Zip(widgets).Prefetch(1));
    }

    [Fact]
    public async Task OperatorsThatBufferNothing_NeedNoCodec()
    {
        Dataset<Widget> widgets = Dataset.Range(0, 6).Map(i => new Widget((int)i, "w" + i)).Filter(w => w.Id % 2 == 0).Take(2).Skip(1).Repeat(2).Concatenate(Dataset.FromList([new Widget(9, "z")]));
        await AssertResumeMatchesAsync(() => widgets, 2, 10);
        Assert.Equal(3, (await ReadAllAsync(widgets)).Count);
    }

    [Fact]
    public async Task SourceGeneratedJson_MakesACustomTypeBufferable()
    {
        Func<Dataset<Widget>> build = () => Dataset.Range(0, 40).Map(i => new Widget((int)i, "w" + i))
            .WithCodecs(ElementCodecRegistry.Default.WithJson(TestJsonContext.Default))
            .Shuffle(8, 3)
            .Prefetch(2);
        Assert.Contains("codec=json:InputPipeline.Checkpointing.Pipeline.Tests.Widget", build().ToString(), StringComparison.Ordinal);
        await AssertResumeMatchesAsync(build, 11, 100);
        Assert.Throws<ElementCodecNotFoundException>(() => Dataset.FromList([new Gadget(1)]).WithCodecs(ElementCodecRegistry.Default.WithJson(TestJsonContext.Default)).Shuffle(2, 1));
    }

    [Fact]
    public async Task JsonTypeInfo_And_ReflectionJson_AreAccepted()
    {
        Func<Dataset<Widget>> typed = () => Dataset.FromList([new Widget(1, "a"), new Widget(2, "b"), new Widget(3, "c")])
            .WithCodecs(ElementCodecRegistry.Default.WithJson(TestJsonContext.Default.Widget))
            .Shuffle(3, 1);
        await AssertResumeMatchesAsync(typed, 1, 10);

        Func<Dataset<Gadget[]>> reflected = () => Dataset.FromList([new Gadget(1.5), new Gadget(2.5)])
            .WithCodecs(ElementCodecRegistry.Default.WithReflectionJson())
            .Prefetch(2)
            .Batch(2);
        await AssertResumeMatchesAsync(() => reflected().Map(b => b.Length), 0, 10);
        Assert.Contains("codec=json:InputPipeline.Checkpointing.Pipeline.Tests.Gadget", reflected().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExplicitCodec_ViaWithElementCodec_OrTheRegistry_IsUsed()
    {
        var codec = new WidgetCodec();
        Func<Dataset<Widget>> viaDataset = () => Dataset.Range(0, 20).Map(i => new Widget((int)i, "n" + i)).WithElementCodec(codec).Shuffle(5, 2);
        Assert.Contains("codec=widget-v1", viaDataset().ToString(), StringComparison.Ordinal);
        await AssertResumeMatchesAsync(viaDataset, 7, 100);

        Func<Dataset<Widget>> viaRegistry = () => Dataset.Range(0, 20).Map(i => new Widget((int)i, "n" + i)).WithCodecs(ElementCodecRegistry.Default.With<Widget>(codec)).Prefetch(3);
        await AssertResumeMatchesAsync(viaRegistry, 7, 100);
        Assert.True(codec.Writes > 0);
    }

    [Fact]
    public async Task ZipAndBatch_DeriveTupleAndArrayCodecs()
    {
        Func<Dataset<(long, string)[]>> build = () => Dataset.Range(0, 30).Zip(Dataset.FromList(Enumerable.Range(0, 30).Select(i => "s" + i).ToArray()))
            .Shuffle(6, 1)
            .Batch(4)
            .Prefetch(2);
        Assert.Contains("prefetch(buffer=2,codec=array<tuple<int64,string>>)", build().ToString(), StringComparison.Ordinal);
        await AssertResumeMatchesAsync(build, 3, 100, new TupleArrayComparer());
    }

    private sealed class TupleArrayComparer : IEqualityComparer<(long, string)[]>
    {
        public bool Equals((long, string)[]? x, (long, string)[]? y) => x!.SequenceEqual(y!);

        public int GetHashCode((long, string)[] obj) => obj.Length;
    }

    private sealed class WidgetCodec : IElementCodec<Widget>
    {
        private int _writes;

        public int Writes => _writes;

        public string Name => "widget-v1";

        public void Write(Widget value, IBufferWriter<byte> output)
        {
            Interlocked.Increment(ref _writes);
            ElementCodecs.TupleOf(ElementCodecs.Int32Codec, ElementCodecs.StringCodec).Write((value.Id, value.Name), output);
        }

        public Widget Read(ReadOnlySpan<byte> data)
        {
            (int id, string name) = ElementCodecs.TupleOf(ElementCodecs.Int32Codec, ElementCodecs.StringCodec).Read(data);
            return new Widget(id, name);
        }
    }
}
