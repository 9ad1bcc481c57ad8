using System.Buffers.Binary;
using System.Numerics;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// TensorFlow's TFRecord framing, with nothing before the first record or after the last:
/// <code>
/// uint64 LE  length
/// uint32 LE  masked CRC-32C of the 8 length bytes
/// byte[length] data
/// uint32 LE  masked CRC-32C of the data
/// </code>
/// masked(crc) = ((crc &gt;&gt; 15) | (crc &lt;&lt; 17)) + 0xa282ead8 (TensorFlow's crc32c::Mask).
/// </summary>
internal static class TFRecordFormat
{
    /// <summary>The length and its CRC.</summary>
    public const int HeaderSize = 12;

    /// <summary>The data's CRC.</summary>
    public const int FooterSize = 4;

    private const uint MaskDelta = 0xa282ead8;

    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    /// <summary>The CRC-32C (Castagnoli) of <paramref name="data"/>, through the processor's CRC32 instruction where it has one (<see cref="BitOperations.Crc32C(uint, ulong)"/>).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = uint.MaxValue;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        }

        for (; i < data.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, data[i]);
        }

        return ~crc;
    }

    public static uint MaskedCrc(ReadOnlySpan<byte> data) => Mask(Crc32C(data));

    /// <summary>Writes the 12-byte header of a record of <paramref name="length"/> bytes.</summary>
    public static void WriteHeader(Span<byte> header, ulong length)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(header, length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc(header[..8]));
    }

    /// <summary>Reads a header; <see langword="false"/> when the length's CRC does not match (the length cannot be trusted).</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> header, out ulong length)
    {
        length = BinaryPrimitives.ReadUInt64LittleEndian(header);
        return BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) == MaskedCrc(header[..8]);
    }

    /// <summary>Whether <paramref name="footer"/> holds the masked CRC of <paramref name="data"/>.</summary>
    public static bool DataMatches(ReadOnlySpan<byte> data, ReadOnlySpan<byte> footer) =>
        BinaryPrimitives.ReadUInt32LittleEndian(footer) == MaskedCrc(data);

    /// <summary>The structure parameter of a source that reads TFRecords: none for the default (throw), so it can be added later without changing those.</summary>
    public static IReadOnlyList<StructureParameter> Parameters(TFRecordCorruption onCorruption) =>
        onCorruption == TFRecordCorruption.Throw ? [] : [StructureParameter.Of("corrupt", "skip")];
}
