namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// A pipeline was built with an operator that keeps elements in its saved state (shuffle, prefetch, batch, interleave),
/// but no codec is known for the element type: it is neither built in nor registered, and no configured JSON resolver
/// serialises it. Thrown when the operator is added, never at the first save.
/// </summary>
public class ElementCodecNotFoundException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="elementType">The element type without a codec.</param>
    /// <param name="operatorName">The operator that needs it, for example <c>shuffle</c>.</param>
    public ElementCodecNotFoundException(Type elementType, string operatorName)
        : base(
            $"No element codec for {elementType?.FullName ?? "(null)"}, which {operatorName} needs to save the elements it buffers. "
            + "Register one with Dataset.WithCodecs(ElementCodecRegistry.Default.With(codec)), .WithJson(jsonTypeInfo), "
            + ".WithJson(jsonSerializerContext) or .WithReflectionJson(), or give the dataset a codec with WithElementCodec(codec).")
    {
        ElementType = elementType ?? throw new ArgumentNullException(nameof(elementType));
        OperatorName = operatorName;
    }

    /// <summary>Gets the element type without a codec.</summary>
    public Type ElementType { get; }

    /// <summary>Gets the operator that needs the codec.</summary>
    public string OperatorName { get; }
}
