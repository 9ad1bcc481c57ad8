using System.Buffers.Binary;
using System.Text;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>Text lines, record files, indexed record files and store objects: reading, and resuming by seeking (not re-reading).</summary>
public sealed class SourceTests : IDisposable
{
    private readonly TempDirectory _folder = new("pipeline-sources");

    public void Dispose() => _folder.Dispose();

    private string Write(string name, string text, bool bom = false)
    {
        string path = _folder.Combine(name);
        File.WriteAllText(path, text, new UTF8Encoding(bom));
        return path;
    }

    [Fact]
    public async Task TextLines_SplitsOnLfAndCrLf_SkipsTheBom_KeepsEmptyLines()
    {
        string a = Write("a.txt", "first\r\nsecond\n\nlast without newline", bom: true);
        string b = Write("b.txt", string.Empty);
        string c = Write("c.txt", "ünïcödé ✓\n\n");
        Assert.Equal(["first", "second", "", "last without newline", "ünïcödé ✓", ""], await ReadAllAsync(Dataset.TextLines([a, b, c])));
    }

    [Fact]
    public async Task TextLines_LongLines_CrossTheReadBuffer()
    {
        string line = new('x', 200_000);
        string path = Write("long.txt", line + "\n" + line + "y\nz");
        List<string> lines = await ReadAllAsync(Dataset.TextLines(path));
        Assert.Equal([line, line + "y", "z"], lines);
        await AssertResumeMatchesAsync(() => Dataset.TextLines(path), 1, 10);
    }

    [Fact]
    public async Task TextLines_ResumeSeeksToTheSavedOffset_WithoutReadingTheStart()
    {
        string[] lines = [.. Enumerable.Range(0, 100).Select(i => $"line {i:D3}")];
        string path = Write("lines.txt", string.Join("\n", lines) + "\n");
        byte[] state;
        await using (ICheckpointableIterator<string> iterator = Dataset.TextLines(path).CreateIterator())
        {
            Assert.Equal(lines.Take(40), await ReadAsync(iterator, 40));
            state = await SaveAsync(iterator);
        }

        // Overwrite everything already read with bytes that are not even UTF-8: re-reading it would yield other lines.
        int consumed = Encoding.UTF8.GetByteCount(string.Join("\n", lines.Take(40)) + "\n");
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.Write(Enumerable.Repeat((byte)0xFF, consumed).ToArray());
        }

        await using ICheckpointableIterator<string> restored = await RestoreAsync(Dataset.TextLines(path), state);
        Assert.Equal(lines.Skip(40), await ReadAsync(restored));
    }

    [Fact]
    public async Task TextLines_ResumeInALaterFile_NeverOpensTheEarlierOnes()
    {
        string first = Write("one.txt", "a\nb\n");
        string second = Write("two.txt", "c\nd\ne\n");
        byte[] state;
        await using (ICheckpointableIterator<string> iterator = Dataset.TextLines([first, second]).CreateIterator())
        {
            Assert.Equal(["a", "b", "c"], await ReadAsync(iterator, 3));
            state = await SaveAsync(iterator);
        }

        File.Delete(first);
        await using ICheckpointableIterator<string> restored = await RestoreAsync(Dataset.TextLines([first, second]), state);
        Assert.Equal(["d", "e"], await ReadAsync(restored));
    }

    [Fact]
    public async Task TextLines_FileShorterThanTheSavedOffset_IsAMismatch()
    {
        string path = Write("shrinks.txt", "aaaa\nbbbb\ncccc\n");
        byte[] state;
        await using (ICheckpointableIterator<string> iterator = Dataset.TextLines(path).CreateIterator())
        {
            await ReadAsync(iterator, 2);
            state = await SaveAsync(iterator);
        }

        await File.WriteAllTextAsync(path, "a\n");
        await using ICheckpointableIterator<string> restored = Dataset.TextLines(path).CreateIterator();
        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(async () => await restored.RestoreStateAsync(new MemoryStream(state)));
        Assert.Contains("byte 10", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TextLines_MissingFile_FailsWhenRead()
    {
        await using ICheckpointableIterator<string> iterator = Dataset.TextLines(_folder.Combine("missing.txt")).CreateIterator();
        await Assert.ThrowsAsync<FileNotFoundException>(async () => await iterator.MoveNextAsync());
    }

    [Fact]
    public async Task Records_RoundTripThroughTheWriter_AndResumeMidFileBySeeking()
    {
        string path = _folder.Combine("data.rec");
        byte[][] records = [.. Enumerable.Range(0, 50).Select(i => Enumerable.Repeat((byte)i, i * 7).ToArray())];
        Assert.Equal(50, RecordFileWriter.WriteAll(path, records));
        Assert.Equal(records, await ReadAllAsync(Dataset.Records(path)), SequenceComparer<byte>.Instance);

        byte[] state;
        await using (ICheckpointableIterator<byte[]> iterator = Dataset.Records(path).CreateIterator())
        {
            await ReadAsync(iterator, 30);
            state = await SaveAsync(iterator);
        }

        long consumed = records.Take(30).Sum(r => 4L + r.Length);
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.Write(Enumerable.Repeat((byte)0xFF, (int)consumed).ToArray());
        }

        await using ICheckpointableIterator<byte[]> restored = await RestoreAsync(Dataset.Records(path), state);
        Assert.Equal(records.Skip(30), await ReadAsync(restored), SequenceComparer<byte>.Instance);
    }

    [Fact]
    public async Task Records_TruncatedFile_IsInvalidData()
    {
        string path = _folder.Combine("cut.rec");
        RecordFileWriter.WriteAll(path, [new byte[10], new byte[20]], writeIndex: false);
        byte[] bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..^5]);
        await using ICheckpointableIterator<byte[]> iterator = Dataset.Records(path).CreateIterator();
        Assert.True(await iterator.MoveNextAsync());
        await Assert.ThrowsAsync<InvalidDataException>(async () => await iterator.MoveNextAsync());
    }

    [Fact]
    public async Task RecordFileWriter_ShowsNothingUnderTheFinalNameBeforeCommit()
    {
        string path = _folder.Combine("safe.rec");
        await using (var writer = new RecordFileWriter(path))
        {
            await writer.WriteAsync(new byte[] { 1, 2, 3 });
            writer.Write([4, 5]);
            Assert.False(File.Exists(path));
            Assert.False(File.Exists(path + RecordFileWriter.IndexExtension));
            Assert.Equal(2, writer.Count);
        }

        // Abandoned: nothing left at all, not even temporary files.
        Assert.Empty(Directory.GetFiles(_folder.Path, "safe.rec*"));

        using (var writer = new RecordFileWriter(path))
        {
            writer.Write([9]);
            writer.Commit();
            Assert.Throws<ObjectDisposedException>(() => writer.Write([1]));
        }

        Assert.Equal([path, path + ".idx"], Directory.GetFiles(_folder.Path, "safe.rec*").Order(StringComparer.Ordinal));
        byte[] index = await File.ReadAllBytesAsync(path + ".idx");
        Assert.Equal([0L, 5L], [BinaryPrimitives.ReadInt64LittleEndian(index), BinaryPrimitives.ReadInt64LittleEndian(index.AsSpan(8))]);

        // Overwriting replaces both files.
        RecordFileWriter.WriteAll(path, [[1], [2], [3]]);
        Assert.Equal([[1], [2], [3]], await ReadAllAsync(Dataset.Records(path)));
        using var file = new IndexedRecordFile(path);
        Assert.Equal(3, file.Count);
    }

    [Fact]
    public void IndexedRecordFile_ReadsByIndex_AndRejectsAMismatchedIndex()
    {
        string path = _folder.Combine("indexed.rec");
        RecordFileWriter.WriteAll(path, Enumerable.Range(0, 20).Select(i => Encoding.UTF8.GetBytes("record " + i)));
        using (var file = new IndexedRecordFile(path))
        {
            Assert.Equal(20, file.Count);
            Assert.Equal("record 13", Encoding.UTF8.GetString(file.Read(13)));
            Assert.Equal("record 0", Encoding.UTF8.GetString(file.Read(0)));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.Read(20));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.Read(-1));
        }

        // A new data file without a new index (as after a crash between the two renames of an overwrite).
        RecordFileWriter.WriteAll(path, [[1, 2, 3]], writeIndex: false);
        Assert.Throws<InvalidDataException>(() => new IndexedRecordFile(path));
        Assert.Throws<FileNotFoundException>(() => new IndexedRecordFile(_folder.Combine("none.rec")));
    }

    [Fact]
    public async Task Files_OfADirectory_AreSortedOrdinally()
    {
        Write("b.txt", "2");
        Write("a.txt", "1");
        Write("c.log", "3");
        List<string> files = await ReadAllAsync(Dataset.Files(_folder.Path, "*.txt"));
        Assert.Equal([_folder.Combine("a.txt"), _folder.Combine("b.txt")], files);
        Assert.Equal(["1", "2"], await ReadAllAsync(Dataset.Files(_folder.Path, "*.txt").Interleave(p => Dataset.TextLines(p), 2)));
    }

    private static byte[] RecordObject(params string[] records)
    {
        using var stream = new MemoryStream();
        foreach (string record in records)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(record);
            stream.Write(BitConverter.GetBytes(bytes.Length));
            stream.Write(bytes);
        }

        return stream.ToArray();
    }

    private static async Task<InMemoryInputStateStore> StoreWithObjectsAsync()
    {
        var store = new InMemoryInputStateStore();
        await store.WriteAsync("data/b", new MemoryStream(RecordObject("b0", "b1", "b2")), WriteCondition.None);
        await store.WriteAsync("data/a", new MemoryStream(RecordObject("a0", "a1")), WriteCondition.None);
        await store.WriteAsync("data/c", new MemoryStream(RecordObject("c0", "c1", "c2", "c3")), WriteCondition.None);
        await store.WriteAsync("other/x", new MemoryStream(RecordObject("x0")), WriteCondition.None);
        return store;
    }

    private static async Task<List<string>> ReadStringsAsync(ICheckpointableIterator<byte[]> iterator, long max = long.MaxValue) =>
        [.. (await ReadAsync(iterator, max)).Select(b => Encoding.UTF8.GetString(b))];

    [Fact]
    public async Task StoreObjects_YieldsRecordsInKeyOrder_OrWholeObjects()
    {
        InMemoryInputStateStore store = await StoreWithObjectsAsync();
        await using ICheckpointableIterator<byte[]> records = Dataset.StoreObjects(store, "data/").CreateIterator();
        Assert.Equal(["a0", "a1", "b0", "b1", "b2", "c0", "c1", "c2", "c3"], await ReadStringsAsync(records));

        List<byte[]> whole = await ReadAllAsync(Dataset.StoreObjects(store, "data/", StoreObjectFormat.WholeObject));
        Assert.Equal([RecordObject("a0", "a1"), RecordObject("b0", "b1", "b2"), RecordObject("c0", "c1", "c2", "c3")], whole, SequenceComparer<byte>.Instance);
        Assert.Empty(await ReadAllAsync(Dataset.StoreObjects(store, "nothing/")));
    }

    [Fact]
    public async Task StoreObjects_ResumesMidObject_WithARangedRead()
    {
        InMemoryInputStateStore inner = await StoreWithObjectsAsync();
        byte[] state;
        await using (ICheckpointableIterator<byte[]> iterator = Dataset.StoreObjects(inner, "data/").CreateIterator())
        {
            Assert.Equal(["a0", "a1", "b0"], await ReadStringsAsync(iterator, 3));
            state = await SaveAsync(iterator);
        }

        var observed = new ObservingStore(inner);
        await using ICheckpointableIterator<byte[]> restored = await RestoreAsync(Dataset.StoreObjects(observed, "data/"), state);
        Assert.Equal(["b1", "b2", "c0", "c1", "c2", "c3"], await ReadStringsAsync(restored));
        Assert.Equal(("data/b", 6L), observed.Reads[0]);
        Assert.Equal(("data/c", 0L), observed.Reads[1]);
        Assert.Equal(2, observed.Reads.Count);
    }

    [Fact]
    public async Task StoreObjects_WhenTheSavedObjectIsGone_ContinuesWithTheNextKey()
    {
        InMemoryInputStateStore store = await StoreWithObjectsAsync();
        byte[] state;
        await using (ICheckpointableIterator<byte[]> iterator = Dataset.StoreObjects(store, "data/").CreateIterator())
        {
            await ReadAsync(iterator, 3);
            state = await SaveAsync(iterator);
        }

        await store.DeleteAsync("data/b");
        await using ICheckpointableIterator<byte[]> restored = await RestoreAsync(Dataset.StoreObjects(store, "data/"), state);
        Assert.Equal(["c0", "c1", "c2", "c3"], await ReadStringsAsync(restored));
    }

    [Fact]
    public async Task StoreObjects_ResumeAtEveryPoint_ThroughOperators()
    {
        InMemoryInputStateStore store = await StoreWithObjectsAsync();
        Func<Dataset<string>> build = () => Dataset.StoreObjects(store, "data/").Map(b => Encoding.UTF8.GetString(b)).Shuffle(3, 7).Prefetch(2);
        for (int k = 0; k <= 9; k++)
        {
            await AssertResumeMatchesAsync(build, k, 100);
        }

        Assert.Equal("store_objects(provider=InMemory,prefix=data/,format=records)", Dataset.StoreObjects(store, "data/").ToString());
    }

    [Fact]
    public async Task StoreObjects_TruncatedObject_IsInvalidData()
    {
        var store = new InMemoryInputStateStore();
        await store.WriteAsync("d/x", new MemoryStream(RecordObject("hello")[..^2]), WriteCondition.None);
        await using ICheckpointableIterator<byte[]> iterator = Dataset.StoreObjects(store, "d/").CreateIterator();
        await Assert.ThrowsAsync<InvalidDataException>(async () => await iterator.MoveNextAsync());
    }

    /// <summary>Wraps a store and records every read's key and offset.</summary>
    private sealed class ObservingStore(IInputStateStore inner) : IInputStateStore
    {
        public List<(string Key, long Offset)> Reads { get; } = [];

        public string ProviderName => inner.ProviderName;

        public Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(key, content, condition, cancellationToken);

        public Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
        {
            lock (Reads)
            {
                Reads.Add((key, offset));
            }

            return inner.ReadAsync(key, offset, cancellationToken);
        }

        public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default) =>
            inner.DeleteAsync(key, ifVersion, cancellationToken);
    }
}
