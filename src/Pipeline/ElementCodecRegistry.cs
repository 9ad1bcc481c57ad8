using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using InputPipeline.Checkpointing.Pipeline.Codecs;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// An immutable set of element codecs that a pipeline uses to save the elements its operators buffer. Every
/// <c>With…</c> method returns a new registry. Attach one to a dataset with <see cref="Dataset{T}.WithCodecs"/>; the
/// operators added after it use it.
/// </summary>
/// <remarks>
/// A codec is looked up in this order: codecs registered with <see cref="With{T}"/> (or <see cref="WithJson{T}"/>) for
/// exactly the type; the built-in codecs (<see cref="ElementCodecs"/>: primitives, <see cref="string"/>,
/// <see cref="byte"/> arrays and one-dimensional arrays of those); then each JSON resolver added with
/// <see cref="WithJson(IJsonTypeInfoResolver, JsonSerializerOptions?)"/> or <see cref="WithReflectionJson"/>, in the order added. Batches
/// and zipped pairs get array and tuple codecs built from their components' codecs.
/// </remarks>
public sealed class ElementCodecRegistry
{
    private readonly ImmutableDictionary<Type, object> _codecs;
    private readonly ImmutableList<JsonSerializerOptions> _json;

    private ElementCodecRegistry(ImmutableDictionary<Type, object> codecs, ImmutableList<JsonSerializerOptions> json)
    {
        _codecs = codecs;
        _json = json;
    }

    /// <summary>Gets the registry with only the built-in codecs, which every dataset starts with.</summary>
    public static ElementCodecRegistry Default { get; } = new(ImmutableDictionary<Type, object>.Empty, []);

    /// <summary>Returns a registry that also uses <paramref name="codec"/> for <typeparamref name="T"/> (replacing any earlier one for the type).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="codec">The codec.</param>
    /// <returns>The new registry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="codec"/> is null.</exception>
    public ElementCodecRegistry With<T>(IElementCodec<T> codec)
    {
        ArgumentNullException.ThrowIfNull(codec);
        return new(_codecs.SetItem(typeof(T), codec), _json);
    }

    /// <summary>Returns a registry that writes <typeparamref name="T"/> as JSON through <paramref name="typeInfo"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="typeInfo">The type's JSON metadata, for example from a source-generated <c>JsonSerializerContext</c>.</param>
    /// <returns>The new registry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="typeInfo"/> is null.</exception>
    public ElementCodecRegistry WithJson<T>(JsonTypeInfo<T> typeInfo) => With(ElementCodecs.Json(typeInfo));

    /// <summary>
    /// Returns a registry that writes as JSON every type <paramref name="resolver"/> knows, for example a source-generated
    /// <c>JsonSerializerContext</c>. Whether a type is known is checked when a buffering operator is added.
    /// </summary>
    /// <param name="resolver">The JSON metadata resolver.</param>
    /// <param name="options">Serializer options to copy (naming policy, converters, …); <see langword="null"/> (the default) uses the defaults.</param>
    /// <returns>The new registry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="resolver"/> is null.</exception>
    public ElementCodecRegistry WithJson(IJsonTypeInfoResolver resolver, JsonSerializerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        var copy = options is null ? new JsonSerializerOptions() : new JsonSerializerOptions(options);
        copy.TypeInfoResolver = resolver;
        copy.MakeReadOnly();
        return new(_codecs, _json.Add(copy));
    }

    /// <summary>
    /// Returns a registry that writes any other type as JSON with reflection-based System.Text.Json metadata. Convenient,
    /// but neither trimming- nor AOT-safe; prefer <see cref="WithJson(IJsonTypeInfoResolver, JsonSerializerOptions?)"/>
    /// with a source-generated context.
    /// </summary>
    /// <param name="options">Serializer options to copy; <see langword="null"/> (the default) uses the defaults. Its resolver, if set, is kept.</param>
    /// <returns>The new registry.</returns>
    [RequiresUnreferencedCode("Reflection-based JSON serialisation may need members the trimmer removes. Use WithJson with a source-generated JsonSerializerContext.")]
    [RequiresDynamicCode("Reflection-based JSON serialisation may generate code at run time. Use WithJson with a source-generated JsonSerializerContext.")]
    public ElementCodecRegistry WithReflectionJson(JsonSerializerOptions? options = null)
    {
        var copy = options is null ? new JsonSerializerOptions() : new JsonSerializerOptions(options);
        copy.TypeInfoResolver ??= new DefaultJsonTypeInfoResolver();
        copy.MakeReadOnly();
        return new(_codecs, _json.Add(copy));
    }

    /// <summary>Looks up the codec of <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="codec">The codec, when found.</param>
    /// <returns><see langword="true"/> when a codec was found.</returns>
    public bool TryGetCodec<T>([NotNullWhen(true)] out IElementCodec<T>? codec)
    {
        if (_codecs.TryGetValue(typeof(T), out object? registered) || ElementCodecs.BuiltIn.TryGetValue(typeof(T), out registered))
        {
            codec = (IElementCodec<T>)registered;
            return true;
        }

        foreach (JsonSerializerOptions options in _json)
        {
            JsonTypeInfo? info;
            try
            {
                if (!options.TryGetTypeInfo(typeof(T), out info))
                {
                    continue;
                }
            }
            catch (NotSupportedException)
            {
                continue;
            }
            catch (InvalidOperationException)
            {
                continue;
            }

            if (info is JsonTypeInfo<T> typed)
            {
                codec = new JsonElementCodec<T>(typed);
                return true;
            }
        }

        codec = null;
        return false;
    }

    /// <summary>Returns the codec of <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="operatorName">The operator that needs it, named in the exception; <see langword="null"/> names none.</param>
    /// <returns>The codec.</returns>
    /// <exception cref="ElementCodecNotFoundException">No codec is known for <typeparamref name="T"/>.</exception>
    public IElementCodec<T> GetCodec<T>(string? operatorName = null) =>
        TryGetCodec(out IElementCodec<T>? codec) ? codec : throw new ElementCodecNotFoundException(typeof(T), operatorName ?? "the pipeline");
}
