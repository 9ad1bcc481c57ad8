using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>SplitMix64 (Steele, Lea, Flood): seeds the other generators and mixes 64-bit values.</summary>
internal static class SplitMix64
{
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    public static ulong Next(ref ulong state)
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}

/// <summary>
/// xoshiro256** (Blackman, Vigna): a small generator whose whole state is four 64-bit words, so it saves and restores
/// exactly (unlike <see cref="System.Random"/>).
/// </summary>
internal struct Xoshiro256StarStar
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public Xoshiro256StarStar(ulong seed)
    {
        ulong sm = seed;
        _s0 = SplitMix64.Next(ref sm);
        _s1 = SplitMix64.Next(ref sm);
        _s2 = SplitMix64.Next(ref sm);
        _s3 = SplitMix64.Next(ref sm);
    }

    public Xoshiro256StarStar(ulong s0, ulong s1, ulong s2, ulong s3)
    {
        _s0 = s0;
        _s1 = s1;
        _s2 = s2;
        _s3 = s3;
    }

    public readonly (ulong S0, ulong S1, ulong S2, ulong S3) State => (_s0, _s1, _s2, _s3);

    public readonly bool IsValid => (_s0 | _s1 | _s2 | _s3) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Next()
    {
        unchecked
        {
            ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
            ulong t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = ulong.RotateLeft(_s3, 45);
            return result;
        }
    }

    /// <summary>Returns a uniformly distributed value in [0, <paramref name="bound"/>) (Lemire's method, unbiased).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextBelow(int bound)
    {
        // The high and low halves of the 128-bit product, each in one instruction and in registers.
        ulong range = (ulong)bound;
        ulong x = Next();
        ulong high = MultiplyHigh(x, range);
        ulong low = unchecked(x * range);
        if (low < range)
        {
            ulong threshold = unchecked(0UL - range) % range;
            while (low < threshold)
            {
                x = Next();
                high = MultiplyHigh(x, range);
                low = unchecked(x * range);
            }
        }

        return (int)high;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MultiplyHigh(ulong left, ulong right) =>
        Bmi2.X64.IsSupported ? Bmi2.X64.MultiplyNoFlags(left, right) : Math.BigMul(left, right, out _);
}

/// <summary>
/// A keyed bijection of [0, <c>count</c>): a balanced Feistel network over the smallest even number of bits that covers
/// the domain, with cycle walking for the values past <c>count</c>. O(1) memory, about four network evaluations per
/// value at worst on average.
/// </summary>
internal sealed class FeistelPermutation
{
    private const int Rounds = 6;
    private readonly ulong _count;
    private readonly int _halfBits;
    private readonly ulong _mask;
    private readonly ulong[] _keys = new ulong[Rounds];

    public FeistelPermutation(long count, ulong key)
    {
        _count = (ulong)count;
        int bits = count <= 1 ? 0 : 64 - (int)ulong.LeadingZeroCount((ulong)count - 1);
        bits = Math.Max(bits, 2);
        if ((bits & 1) != 0)
        {
            bits++;
        }

        _halfBits = bits / 2;
        _mask = _halfBits >= 64 ? ulong.MaxValue : (1UL << _halfBits) - 1;
        ulong state = key;
        for (int i = 0; i < Rounds; i++)
        {
            _keys[i] = SplitMix64.Next(ref state);
        }
    }

    /// <summary>Maps a position in [0, count) to the element index at that position.</summary>
    public long Map(long position)
    {
        ulong x = (ulong)position;
        if (_count <= 1)
        {
            return position;
        }

        do
        {
            x = Encrypt(x);
        }
        while (x >= _count);
        return (long)x;
    }

    private ulong Encrypt(ulong x)
    {
        ulong left = x >> _halfBits;
        ulong right = x & _mask;
        for (int i = 0; i < Rounds; i++)
        {
            ulong next = left ^ (SplitMix64.Mix(right ^ _keys[i]) & _mask);
            left = right;
            right = next;
        }

        return (left << _halfBits) | right;
    }
}
