using System.Buffers.Binary;
using System.Text;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>TFRecord files: the writer's bytes against the format's definition, and the file and store-object sources (CRCs, damage, resume).</summary>
public sealed class TFRecordTests : IDisposable
{
    private readonly TempDirectory _folder = new("pipeline-tfrecord");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void TheTestsCrc32C_IsTheCastagnoliCrc_OfItsCheckValue() =>
        Assert.Equal(0xE3069283u, BitwiseCrc32C("123456789"u8));

    [Fact]
    public void Writer_WritesTheBytesTheFormatDefines_ForFirstAndSecond()
    {
        // Built here from the format's definition (uint64 length, masked CRC-32C of it, data, masked CRC-32C of the data),
        // with a bitwise CRC-32C, and the same bytes as a literal computed outside this code base.
        byte[] expected = [.. Frame("first"u8), .. Frame("second"u8)];
        Assert.Equal(
            Convert.FromHexString("0500000000000000eab2043e666972737455ff23e506000000000000007369d5377365636f6e64d3e0d3ca"),
            expected);

        var stream = new MemoryStream();
        using (var writer = new TFRecordWriter(stream, leaveOpen: true))
        {
            writer.Write("first"u8);
            writer.Write("second"u8);
            Assert.Equal(2, writer.Count);
        }

        Assert.Equal(expected, stream.ToArray());

        string path = _folder.Combine("two.tfrecord");
        Assert.Equal(2, TFRecordWriter.WriteAll(path, [Encoding.ASCII.GetBytes("first"), Encoding.ASCII.GetBytes("second")]));
        Assert.Equal(expected, File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(_folder.Path, "*.tmp-*"));
    }

    [Fact]
    public async Task WriterAsync_WritesTheSameBytes()
    {
        var stream = new MemoryStream();
        await using (var writer = new TFRecordWriter(stream, leaveOpen: true))
        {
            await writer.WriteAsync("first"u8.ToArray());
            await writer.WriteAsync("second"u8.ToArray());
        }

        Assert.Equal([.. Frame("first"u8), .. Frame("second"u8)], stream.ToArray());
    }

    [Fact]
    public async Task Reader_ReadsRecordsOfZeroBytes_AndOfSeveralMiB()
    {
        byte[] big = new byte[5 * 1024 * 1024 + 3];
        new Random(7).NextBytes(big);
        byte[][] records = [[], "a"u8.ToArray(), big, [], "last"u8.ToArray()];
        string path = _folder.Combine("mixed.tfrecord");
        TFRecordWriter.WriteAll(path, records);
        Assert.Equal(records, await ReadAllAsync(Dataset.TFRecords(path)), SequenceComparer<byte>.Instance);
        await AssertResumeMatchesAsync(() => Dataset.TFRecords(path), 3, 10, SequenceComparer<byte>.Instance);
    }

    [Fact]
    public async Task EmptyFile_HasNoRecords()
    {
        string path = _folder.Combine("empty.tfrecord");
        await File.WriteAllBytesAsync(path, []);
        Assert.Empty(await ReadAllAsync(Dataset.TFRecords([path, path])));
    }

    [Fact]
    public async Task DamagedLengthCrc_ThrowsNamingTheFileAndOffset_OrEndsThatFileWhenSkipping()
    {
        (string damaged, long offset) = WriteDamaged("length.tfrecord", record: 2, byteInRecord: 9);
        string intact = Write("intact.tfrecord", "x", "y");
        TFRecordCorruptedException ex = await Assert.ThrowsAsync<TFRecordCorruptedException>(() => ReadAllAsync(Dataset.TFRecords([damaged, intact])));
        Assert.Equal(damaged, ex.Key);
        Assert.Equal(offset, ex.Offset);
        Assert.Contains("length", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<CheckpointCorruptedException>(ex);

        Assert.Equal(["r0", "r1", "x", "y"], await ReadStringsAsync(Dataset.TFRecords([damaged, intact], TFRecordCorruption.Skip)));
    }

    [Fact]
    public async Task DamagedDataCrc_ThrowsNamingTheFileAndOffset_OrSkipsThatRecord()
    {
        (string damaged, long offset) = WriteDamaged("data.tfrecord", record: 2, byteInRecord: 13);
        TFRecordCorruptedException ex = await Assert.ThrowsAsync<TFRecordCorruptedException>(() => ReadAllAsync(Dataset.TFRecords(damaged)));
        Assert.Equal(damaged, ex.Key);
        Assert.Equal(offset, ex.Offset);
        Assert.Contains("data", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["r0", "r1", "r3", "r4"], await ReadStringsAsync(Dataset.TFRecords(damaged, TFRecordCorruption.Skip)));

        // The damaged footer too.
        (string footer, _) = WriteDamaged("footer.tfrecord", record: 4, byteInRecord: 12 + 2 + 1);
        Assert.Equal(["r0", "r1", "r2", "r3"], await ReadStringsAsync(Dataset.TFRecords(footer, TFRecordCorruption.Skip)));
    }

    [Fact]
    public async Task TruncatedLastRecord_Throws_OrIsDroppedWhenSkipping()
    {
        string path = Write("cut.tfrecord", "r0", "r1", "r2");
        byte[] bytes = await File.ReadAllBytesAsync(path);
        foreach (int cut in new[] { 1, 5, 12, 14, 17 })
        {
            string truncated = _folder.Combine($"cut-{cut}.tfrecord");
            await File.WriteAllBytesAsync(truncated, bytes[..^cut]);
            TFRecordCorruptedException ex = await Assert.ThrowsAsync<TFRecordCorruptedException>(() => ReadAllAsync(Dataset.TFRecords(truncated)));
            Assert.Equal(2 * 18, ex.Offset);
            Assert.Equal(["r0", "r1"], await ReadStringsAsync(Dataset.TFRecords(truncated, TFRecordCorruption.Skip)));
        }
    }

    [Fact]
    public async Task ResumeMidFile_SeeksToTheSavedOffset_WithoutReadingWhatComesBefore()
    {
        string path = Write("resume.tfrecord", [.. Enumerable.Range(0, 50).Select(i => $"record-{i}")]);
        Dataset<string> Build() => Dataset.TFRecords(path).Map(b => Encoding.UTF8.GetString(b));
        byte[] state;
        await using (ICheckpointableIterator<string> iterator = Build().CreateIterator())
        {
            Assert.Equal(20, (await ReadAsync(iterator, 20)).Count);
            state = await SaveAsync(iterator);
        }

        // Damage a record before the saved offset: the restored reader never reads it.
        byte[] bytes = await File.ReadAllBytesAsync(path);
        bytes[20] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);
        await using ICheckpointableIterator<string> restored = await RestoreAsync(Build(), state);
        Assert.Equal(Enumerable.Range(20, 30).Select(i => $"record-{i}"), await ReadAsync(restored));
    }

    [Fact]
    public async Task FastPath_YieldsAndSavesWhatTheElementByElementPathDoes()
    {
        string a = Write("fast-a.tfrecord", [.. Enumerable.Range(0, 300).Select(i => new string('a', i % 17))]);
        string b = Write("fast-b.tfrecord", [.. Enumerable.Range(0, 200).Select(i => $"b{i}")]);
        Dataset<string[]> Build(bool fast)
        {
            Dataset<byte[]> source = Dataset.TFRecords([a, b]);
            return (fast ? source : source.Prefetch(1)).Map(x => Encoding.UTF8.GetString(x)).Shuffle(64, 3).Batch(9);
        }

        Assert.Equal(await ReadAllAsync(Build(false)), await ReadAllAsync(Build(true)), SequenceComparer<string>.Instance);
        for (int k = 0; k <= 56; k += 11)
        {
            await AssertResumeMatchesAsync(() => Build(true), k, 100, SequenceComparer<string>.Instance);
        }
    }

    [Fact]
    public async Task StoreObjects_AreReadAsTFRecords_ResumeWithARangedRead_AndReportDamageByKey()
    {
        var store = new InMemoryInputStateStore();
        await store.WriteAsync("shards/a", new MemoryStream(FileBytes("a0", "a1", "a2")), WriteCondition.None);
        await store.WriteAsync("shards/b", new MemoryStream(FileBytes([.. Enumerable.Range(0, 40).Select(i => $"b{i}")])), WriteCondition.None);
        Dataset<string> Build(TFRecordCorruption mode = TFRecordCorruption.Throw) => Dataset.TFRecords(store, "shards/", mode).Map(x => Encoding.UTF8.GetString(x));
        List<string> all = await ReadAllAsync(Build());
        Assert.Equal(["a0", "a1", "a2", .. Enumerable.Range(0, 40).Select(i => $"b{i}")], all);
        Assert.Equal(all, await ReadAllAsync(Dataset.StoreObjects(store, "shards/", StoreObjectFormat.TFRecord).Map(x => Encoding.UTF8.GetString(x))));
        for (int k = 0; k <= all.Count; k += 5)
        {
            await AssertResumeMatchesAsync(() => Build(), k, 100);
        }

        byte[] damaged = FileBytes("c0", "c1", "c2");
        damaged[(18 * 1) + 13] ^= 0x01;
        await store.WriteAsync("shards/c", new MemoryStream(damaged), WriteCondition.None);
        TFRecordCorruptedException ex = await Assert.ThrowsAsync<TFRecordCorruptedException>(() => ReadAllAsync(Build()));
        Assert.Equal("shards/c", ex.Key);
        Assert.Equal(18, ex.Offset);
        Assert.Equal([.. all, "c0", "c2"], await ReadAllAsync(Build(TFRecordCorruption.Skip)));

        byte[] badLength = FileBytes("d0", "d1");
        badLength[18 + 3] ^= 0x10;
        await store.WriteAsync("shards/d", new MemoryStream(badLength[..^3]), WriteCondition.None);
        Assert.Equal([.. all, "c0", "c2", "d0"], await ReadAllAsync(Build(TFRecordCorruption.Skip)));
    }

    [Fact]
    public void SkippingIsPartOfTheStructure_AndAnUnknownModeIsRefused()
    {
        Assert.Equal("tfrecord(files=[x])", Dataset.TFRecords("x").ToString());
        Assert.Equal("tfrecord(files=[x],corrupt=skip)", Dataset.TFRecords("x", TFRecordCorruption.Skip).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.TFRecords("x", (TFRecordCorruption)7));
        Assert.Throws<ArgumentException>(() => Dataset.TFRecords(""));
    }

    private static uint BitwiseCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    private static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = BitwiseCrc32C(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }

    private static byte[] Frame(ReadOnlySpan<byte> data)
    {
        byte[] frame = new byte[12 + data.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(frame, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), Masked(frame.AsSpan(0, 8)));
        data.CopyTo(frame.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12 + data.Length), Masked(data));
        return frame;
    }

    private static byte[] FileBytes(params string[] records) => [.. records.SelectMany(r => Frame(Encoding.UTF8.GetBytes(r)))];

    private static async Task<List<string>> ReadStringsAsync(Dataset<byte[]> dataset) =>
        [.. (await ReadAllAsync(dataset)).Select(b => Encoding.UTF8.GetString(b))];

    private string Write(string name, params string[] records)
    {
        string path = _folder.Combine(name);
        File.WriteAllBytes(path, FileBytes(records));
        return path;
    }

    /// <summary>Writes records r0..r4 (18 bytes each) and flips one byte of one of them; returns the file and that record's offset.</summary>
    private (string Path, long Offset) WriteDamaged(string name, int record, int byteInRecord)
    {
        byte[] bytes = FileBytes("r0", "r1", "r2", "r3", "r4");
        bytes[(record * 18) + byteInRecord] ^= 0x04;
        string path = _folder.Combine(name);
        File.WriteAllBytes(path, bytes);
        return (path, record * 18);
    }
}
