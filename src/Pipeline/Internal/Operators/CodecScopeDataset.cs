namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>A dataset with the same structure and nodes as its input, but other codecs for the operators added after it.</summary>
internal sealed class CodecScopeDataset<T>(Dataset<T> input, ElementCodecRegistry codecs, IElementCodec<T>? codec) : Dataset<T>(codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => input.Describe();

    internal override Node<T> CreateNode(IterationContext context) => input.CreateNode(context);

    internal override IElementCodec<T> ResolveCodec(string operatorName) => codec ?? base.ResolveCodec(operatorName);
}
