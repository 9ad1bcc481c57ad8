using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace InputPipeline.Checkpointing.Pipeline.Codecs;

/// <summary>Elements as UTF-8 JSON, through a <see cref="JsonTypeInfo{T}"/> (source-generated or reflection-based).</summary>
internal sealed class JsonElementCodec<T>(JsonTypeInfo<T> typeInfo) : IElementCodec<T>
{
    public string Name { get; } = "json:" + (typeof(T).FullName ?? typeof(T).Name);

    public void Write(T value, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output);
        JsonSerializer.Serialize(writer, value, typeInfo);
    }

    public T Read(ReadOnlySpan<byte> data) => JsonSerializer.Deserialize(data, typeInfo)!;
}
