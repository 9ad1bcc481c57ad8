using System.Buffers.Binary;
using System.IO.Hashing;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// The layout of a saved pipeline state (all integers little-endian):
/// <code>
/// magic        4 bytes  "IPST"
/// version      int32    1, or 2 when a node holds elements in flight (see below)
/// header size  int32    H
/// header       H bytes  the structure description: kind (string), parameter count (int32), each parameter
///                       (name string, shape byte 0 = value string / 1 = list: int32 count + strings),
///                       input count (int32), each input recursively; a string is an int32 UTF-8 byte count + bytes
/// header CRC   uint32   CRC-32 of every byte before it
/// body                  the nodes' states, depth first, as each operator defines it
/// CRC          uint32   CRC-32 of every byte before it
/// </code>
/// Version 2 adds one section, an element count and the elements (<see cref="ElementSection.CaptureInFlight"/>), to the
/// state of every map and filter (before its input's: the inputs read but not yet passed to the function) and to every
/// open slot of an interleave (before the opened dataset's: the elements read ahead from it). A capture is written in
/// version 2 only when one of those sections is not empty (a parallel map or interleave with work in flight, or a
/// function that failed inside a bulk read); every other state is written in version 1, byte for byte as before. The
/// parallelism of an operator is in neither the structure nor the layout, so a state restores at any parallelism.
/// </summary>
internal static class PipelineStateFormat
{
    /// <summary>The first version, and the one a state is written in when it needs nothing newer.</summary>
    public const int BaseVersion = 1;

    /// <summary>The version that adds the in-flight sections of map, filter and interleave.</summary>
    public const int InFlightVersion = 2;

    /// <summary>The newest version this library writes and reads.</summary>
    public const int FormatVersion = InFlightVersion;

    private const int MaxHeaderBytes = 256 * 1024 * 1024;

    private static ReadOnlySpan<byte> Magic => "IPST"u8;

    public static byte[] BuildPrefix(StructureNode structure, int version)
    {
        using var header = new StateWriter(Stream.Null);
        structure.Write(header);
        ReadOnlySpan<byte> headerBytes = header.Buffered;
        byte[] prefix = new byte[4 + 4 + 4 + headerBytes.Length + 4];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(4), version);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(8), headerBytes.Length);
        headerBytes.CopyTo(prefix.AsSpan(12));
        uint crc = Crc32.HashToUInt32(prefix.AsSpan(0, 12 + headerBytes.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12 + headerBytes.Length), crc);
        return prefix;
    }

    public static async ValueTask<(StructureNode Structure, int Version)> ReadPrefixAsync(StateReader reader, string name, CancellationToken cancellationToken)
    {
        byte[] magic = await reader.ReadRawAsync(4, cancellationToken).ConfigureAwait(false);
        if (!magic.AsSpan().SequenceEqual(Magic))
        {
            throw new StateCorruptException("it does not start with the pipeline state marker \"IPST\" (not a pipeline state, or damaged).");
        }

        int version = await reader.ReadInt32Async(cancellationToken).ConfigureAwait(false);
        if (version > FormatVersion)
        {
            throw new CheckpointFormatVersionException(name, version, FormatVersion);
        }

        if (version < 1)
        {
            throw new StateCorruptException($"format version {version} is not a valid version.");
        }

        int size = await reader.ReadInt32Async(0, MaxHeaderBytes, "the header size", cancellationToken).ConfigureAwait(false);
        byte[] header = await reader.ReadRawAsync(size, cancellationToken).ConfigureAwait(false);
        uint computed = reader.CurrentCrc();
        uint found = await reader.ReadUInt32Async(cancellationToken).ConfigureAwait(false);
        if (computed != found)
        {
            throw new StateCorruptException($"header checksum mismatch: the state records CRC-32 {found:x8}, the header hashes to {computed:x8}.");
        }

        using var headerReader = new StateReader(new MemoryStream(header, writable: false));
        StructureNode structure = await StructureNode.ReadAsync(headerReader, cancellationToken).ConfigureAwait(false);
        if (!await headerReader.AtEndAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new StateCorruptException("the header has bytes after the structure description.");
        }

        return (structure, version);
    }
}
