using System.Text;

namespace GcsEmulator.Tests;

public sealed class Crc32CTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("a", 0xC1D04330u)]
    public void Known_vectors(string text, uint expected)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(expected, Crc32C.Compute(bytes));
        Assert.Equal(expected, Crc32C.ComputeWithTable(bytes));
    }

    [Fact]
    public void Rfc3720_vectors_and_big_endian_base64()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal("4waSgw==", Crc32C.ToBase64(0xE3069283u));
    }

    [Fact]
    public void Hardware_and_table_paths_agree_incrementally()
    {
        var data = Gcs.RandomBytes(100_003, seed: 42);
        var state = Crc32C.InitialState;
        foreach (var chunk in data.Chunk(7919))
        {
            state = Crc32C.Append(state, chunk);
        }
        Assert.Equal(Crc32C.ComputeWithTable(data), Crc32C.Finish(state));
    }
}
