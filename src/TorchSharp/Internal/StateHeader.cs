using System.Buffers.Binary;
using System.Globalization;

namespace InputPipeline.Checkpointing.TorchSharp.Internal;

/// <summary>
/// The fixed header of a saved training state, followed by its three sections in order: the module
/// (<c>Module.save</c>), the optimizer (<c>save_state_dict</c>) and torch's CPU generator state
/// (<c>torch.get_rng_state()</c>). All numbers are little-endian.
/// </summary>
/// <remarks>
/// <code>
/// offset size
///  0      8   magic "IPCTORCH"
///  8      4   format version (1)
/// 12      4   learning-rate scheduler steps, or -1 when the state has no scheduler
/// 16      8   module section length
/// 24      8   optimizer section length
/// 32      8   generator section length
/// </code>
/// </remarks>
/// <param name="SchedulerSteps">How many times the scheduler was stepped; -1 without a scheduler.</param>
/// <param name="ModuleLength">The module section's length in bytes.</param>
/// <param name="OptimizerLength">The optimizer section's length in bytes.</param>
/// <param name="GeneratorLength">The generator section's length in bytes.</param>
internal readonly record struct StateHeader(int SchedulerSteps, long ModuleLength, long OptimizerLength, long GeneratorLength)
{
    /// <summary>The header's size in bytes.</summary>
    public const int Size = 40;

    /// <summary>The format version this library writes, and the newest it reads.</summary>
    public const int FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "IPCTORCH"u8;

    /// <summary>Gets the offset of the module section.</summary>
    public static long ModuleOffset => Size;

    /// <summary>Gets the offset of the optimizer section.</summary>
    public long OptimizerOffset => Size + ModuleLength;

    /// <summary>Gets the offset of the generator section.</summary>
    public long GeneratorOffset => Size + ModuleLength + OptimizerLength;

    /// <summary>Gets the length of the whole state, header included.</summary>
    public long TotalLength => Size + ModuleLength + OptimizerLength + GeneratorLength;

    /// <summary>Writes the header into <paramref name="destination"/>, which holds at least <see cref="Size"/> bytes.</summary>
    /// <param name="destination">Where to write.</param>
    public void Write(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], SchedulerSteps);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], ModuleLength);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], OptimizerLength);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], GeneratorLength);
    }

    /// <summary>Reads and checks the header of a state of <paramref name="totalLength"/> bytes.</summary>
    /// <param name="source">The first <see cref="Size"/> bytes of the state (fewer when the state is shorter).</param>
    /// <param name="totalLength">The state's length.</param>
    /// <param name="key">The name to report in an error.</param>
    /// <returns>The header.</returns>
    /// <exception cref="CheckpointCorruptedException">The bytes are not a training state of this format, or its lengths do not add up.</exception>
    /// <exception cref="CheckpointFormatVersionException">The state was written in a newer format version.</exception>
    public static StateHeader Read(ReadOnlySpan<byte> source, long totalLength, string key)
    {
        if (totalLength < Size || !source.StartsWith(Magic))
        {
            throw new CheckpointCorruptedException(key, string.Create(CultureInfo.InvariantCulture, $"it is not a TorchSharp training state (it holds {totalLength} bytes and does not start with \"IPCTORCH\")."));
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(source[8..]);
        if (version < 1 || version > FormatVersion)
        {
            throw new CheckpointFormatVersionException(key, version, FormatVersion);
        }

        var header = new StateHeader(
            BinaryPrimitives.ReadInt32LittleEndian(source[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[32..]));
        if (header.SchedulerSteps < -1 || header.ModuleLength < 0 || header.OptimizerLength < 0 || header.GeneratorLength < 0
            || header.ModuleLength > totalLength || header.OptimizerLength > totalLength || header.GeneratorLength > totalLength
            || header.TotalLength != totalLength)
        {
            throw new CheckpointCorruptedException(key, string.Create(CultureInfo.InvariantCulture, $"its header does not add up: scheduler steps {header.SchedulerSteps}, sections of {header.ModuleLength}, {header.OptimizerLength} and {header.GeneratorLength} bytes, in a state of {totalLength} bytes."));
        }

        return header;
    }
}
