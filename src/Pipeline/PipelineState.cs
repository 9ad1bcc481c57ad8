using InputPipeline.Checkpointing.Pipeline.Internal;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// Facts about the saved state of a pipeline iterator, for tools that inspect checkpoints.
/// </summary>
/// <remarks>
/// The state is binary and little-endian: the marker <c>IPST</c>, the format version (Int32), the size of the header
/// (Int32), the header (the pipeline's structure description: operator kinds, parameters and inputs), the header's
/// CRC-32, the operators' states depth first, and the CRC-32 of everything before it.
/// </remarks>
public static class PipelineState
{
    /// <summary>
    /// The newest state format version this library writes and reads: 2. A state is written in version 1, as before
    /// version 2 existed, unless a map, filter or interleave holds elements in flight at the capture (a parallel one at
    /// work, or one whose function failed inside a bulk read); those states are written in version 2.
    /// </summary>
    public const int FormatVersion = PipelineStateFormat.FormatVersion;

    /// <summary>Reads the structure description from the start of a saved state, such as <c>range(start=0,end=10,step=1) | shuffle(buffer=4,seed=7,reshuffle=true,codec=int64)</c>.</summary>
    /// <param name="state">The saved bytes; only the header is read.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The description of the pipeline that saved the state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    /// <exception cref="CheckpointFormatVersionException">The state was written in a newer format.</exception>
    /// <exception cref="CheckpointCorruptedException">The bytes are not a pipeline state, or its header is damaged.</exception>
    public static async ValueTask<string> ReadDescriptionAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var reader = new StateReader(state);
        try
        {
            (StructureNode structure, _) = await PipelineStateFormat.ReadPrefixAsync(reader, "state", cancellationToken).ConfigureAwait(false);
            return structure.ToString();
        }
        catch (StateCorruptException ex)
        {
            throw new CheckpointCorruptedException("state", ex.Message, ex);
        }
    }
}
