namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// One capture of a pipeline's state: collects the format version the nodes' states need. A state is written in the
/// oldest version that can hold it, so a pipeline with nothing that needs a newer section saves exactly the bytes it
/// always saved (see <see cref="PipelineStateFormat"/>).
/// </summary>
internal sealed class CaptureContext
{
    /// <summary>Gets the format version the state is written in: <see cref="PipelineStateFormat.BaseVersion"/> unless a node needs more.</summary>
    public int FormatVersion { get; private set; } = PipelineStateFormat.BaseVersion;

    /// <summary>Asks for at least <paramref name="version"/>.</summary>
    public void Require(int version) => FormatVersion = Math.Max(FormatVersion, version);
}
