using System.Buffers.Binary;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace GcsEmulator;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as used by Cloud Storage for the
/// <c>crc32c</c> object property. Uses the CPU's CRC32C instruction when available and a
/// lookup table otherwise.
/// </summary>
public static class Crc32C
{
    private const uint ReflectedPolynomial = 0x82F63B78u;
    private static readonly uint[] Table = BuildTable();

    /// <summary>Initial state for an incremental computation.</summary>
    public const uint InitialState = 0xFFFFFFFFu;

    /// <summary>Computes the CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(InitialState, data));

    /// <summary>Feeds <paramref name="data"/> into a running state (start with <see cref="InitialState"/>).</summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong wide = state;
            while (data.Length >= 8)
            {
                wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
            state = (uint)wide;
            foreach (var b in data)
            {
                state = Sse42.Crc32(state, b);
            }
            return state;
        }

        if (Crc32.Arm64.IsSupported)
        {
            while (data.Length >= 8)
            {
                state = Crc32.Arm64.ComputeCrc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
            foreach (var b in data)
            {
                state = Crc32.ComputeCrc32C(state, b);
            }
            return state;
        }

        foreach (var b in data)
        {
            state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        }
        return state;
    }

    /// <summary>Turns a running state into the final checksum value.</summary>
    public static uint Finish(uint state) => state ^ 0xFFFFFFFFu;

    /// <summary>The checksum in the form Cloud Storage reports it: base64 of the big-endian 4 bytes.</summary>
    public static string ToBase64(uint crc)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, crc);
        return Convert.ToBase64String(bytes);
    }

    /// <summary>Table-only implementation, exposed so tests can cross-check the hardware path.</summary>
    internal static uint ComputeWithTable(ReadOnlySpan<byte> data)
    {
        var state = InitialState;
        foreach (var b in data)
        {
            state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        }
        return Finish(state);
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var value = i;
            for (var bit = 0; bit < 8; bit++)
            {
                value = (value & 1) != 0 ? (value >> 1) ^ ReflectedPolynomial : value >> 1;
            }
            table[i] = value;
        }
        return table;
    }
}
