using System.Buffers.Binary;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>The saved format: structure mismatches named, damage detected, versions checked, restore rules enforced.</summary>
public sealed class StateFormatTests
{
    private static async Task<byte[]> StateAfterAsync<T>(Dataset<T> dataset, int elements)
    {
        await using ICheckpointableIterator<T> iterator = dataset.CreateIterator();
        await ReadAsync(iterator, elements);
        return await SaveAsync(iterator);
    }

    private static async Task<CheckpointMismatchException> AssertMismatchAsync<T>(Dataset<T> saved, Dataset<T> restoring, params string[] fragments)
    {
        byte[] state = await StateAfterAsync(saved, 3);
        await using ICheckpointableIterator<T> iterator = restoring.CreateIterator();
        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state)));
        foreach (string fragment in fragments)
        {
            Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        }

        return ex;
    }

    [Fact]
    public Task OtherShuffleBufferSize_IsAMismatch_NamingBothSizes() =>
        AssertMismatchAsync(
            Dataset.Range(0, 100).Shuffle(1000, 7),
            Dataset.Range(0, 100).Shuffle(2000, 7),
            "saved shuffle(buffer=1000) but the pipeline has shuffle(buffer=2000)");

    [Fact]
    public Task OtherShuffleSeed_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 100).Shuffle(10, 7), Dataset.Range(0, 100).Shuffle(10, 8), "saved shuffle(seed=7) but the pipeline has shuffle(seed=8)");

    [Fact]
    public Task OtherOperator_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 100).Shuffle(10, 7), Dataset.Range(0, 100).Prefetch(10), "saved shuffle(buffer=10,seed=7", "but the pipeline has prefetch(buffer=10");

    [Fact]
    public Task ExtraOperator_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 100).Map(x => x), Dataset.Range(0, 100).Map(x => x).Take(50), "saved map() but the pipeline has take(count=50)");

    [Fact]
    public Task OtherBatchSize_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 100).Batch(32), Dataset.Range(0, 100).Batch(16), "saved batch(size=32) but the pipeline has batch(size=16)");

    [Fact]
    public Task OtherDropRemainder_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 100).Batch(32), Dataset.Range(0, 100).Batch(32, dropRemainder: true), "saved batch(drop=false) but the pipeline has batch(drop=true)");

    [Fact]
    public Task OtherSourceInsideTheChain_IsAMismatch_WithItsLocation() =>
        AssertMismatchAsync(Dataset.Range(0, 100).Shuffle(5, 1).Batch(2), Dataset.Range(0, 90).Shuffle(5, 1).Batch(2), "saved range(end=100) but the pipeline has range(end=90)", "inside batch > shuffle");

    [Fact]
    public Task OtherRepeatCount_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 10).Repeat(2), Dataset.Range(0, 10).Repeat(), "saved repeat(count=2) but the pipeline has repeat(count=forever)");

    [Fact]
    public Task OtherMapName_IsAMismatch() =>
        AssertMismatchAsync(Dataset.Range(0, 10).Map(x => x, "decode_v1"), Dataset.Range(0, 10).Map(x => x, "decode_v2"), "saved map(name=decode_v1) but the pipeline has map(name=decode_v2)");

    [Fact]
    public Task OtherInterleaveCycle_IsAMismatch() =>
        AssertMismatchAsync(
            Dataset.Range(0, 10).Interleave(x => Dataset.Range(0, x), 4),
            Dataset.Range(0, 10).Interleave(x => Dataset.Range(0, x), 3),
            "saved interleave(cycle=4) but the pipeline has interleave(cycle=3)");

    [Fact]
    public Task ZipOperandsSwapped_IsAMismatch() =>
        AssertMismatchAsync(
            Dataset.Range(0, 10).Zip(Dataset.Range(5, 15)),
            Dataset.Range(5, 15).Zip(Dataset.Range(0, 10)),
            "saved range(start=0) but the pipeline has range(start=5)");

    [Fact]
    public Task OtherCodec_IsAMismatch() =>
        AssertMismatchAsync(
            Dataset.Range(0, 10).Shuffle(4, 1),
            Dataset.Range(0, 10).WithElementCodec(new RenamedInt64Codec()).Shuffle(4, 1),
            "saved shuffle(codec=int64) but the pipeline has shuffle(codec=int64-v2)");

    [Fact]
    public async Task OtherFileList_IsAMismatch_NamingTheFirstDifferentFile()
    {
        using var folder = new TempDirectory("pipeline-mismatch");
        string a = folder.Combine("a.txt");
        string b = folder.Combine("b.txt");
        string c = folder.Combine("c.txt");
        foreach (string path in new[] { a, b, c })
        {
            await File.WriteAllTextAsync(path, "1\n2\n3\n4\n");
        }

        await AssertMismatchAsync(Dataset.TextLines([a, b]), Dataset.TextLines([a, c]), "saved text_lines(files[1]=" + b, "but the pipeline has text_lines(files[1]=" + c);
        await AssertMismatchAsync(Dataset.TextLines([a, b]), Dataset.TextLines([a, b, c]), "saved text_lines(files: 2 entries) but the pipeline has text_lines(files: 3 entries)");
        await AssertMismatchAsync(Dataset.TextLines([a]).Map(x => x.Length), Dataset.Records([a]).Map(x => x.Length), "saved text_lines(", "but the pipeline has records(");
    }

    [Fact]
    public async Task InterleavedDatasetBuiltDifferently_IsAMismatch_NamingTheElement()
    {
        byte[] state = await StateAfterAsync(Dataset.Range(1, 5).Interleave(x => Dataset.Range(0, 10).Shuffle(4, (ulong)x), 2), 5);
        await using ICheckpointableIterator<long> iterator = Dataset.Range(1, 5).Interleave(x => Dataset.Range(0, 10).Shuffle(8, (ulong)x), 2).CreateIterator();
        CheckpointMismatchException ex = await Assert.ThrowsAsync<CheckpointMismatchException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state)));
        Assert.Contains("saved shuffle(buffer=4) but the pipeline has shuffle(buffer=8)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("element 0 (1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryTruncation_IsCorruption()
    {
        byte[] state = await StateAfterAsync(Dataset.Range(0, 100).Interleave(x => Dataset.Range(x, x + 5), 3).Shuffle(6, 2).Batch(3), 4);
        for (int length = 0; length < state.Length; length++)
        {
            await using ICheckpointableIterator<long[]> iterator = Dataset.Range(0, 100).Interleave(x => Dataset.Range(x, x + 5), 3).Shuffle(6, 2).Batch(3).CreateIterator();
            await Assert.ThrowsAnyAsync<CheckpointCorruptedException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state, 0, length)));
        }
    }

    [Fact]
    public async Task EveryFlippedByte_IsCorruption()
    {
        Func<Dataset<(long, string)>> build = () => Dataset.Range(0, 100).Shuffle(5, 3).Zip(Dataset.FromList(["a", "b", "c", "d", "e", "f", "g"]).Repeat()).Prefetch(2);
        byte[] state = await StateAfterAsync(build(), 4);
        for (int i = 0; i < state.Length; i++)
        {
            byte[] damaged = (byte[])state.Clone();
            damaged[i] ^= (byte)(1 << (i % 8));
            await using ICheckpointableIterator<(long, string)> iterator = build().CreateIterator();
            await Assert.ThrowsAnyAsync<CheckpointCorruptedException>(async () => await iterator.RestoreStateAsync(new MemoryStream(damaged)));
        }
    }

    [Fact]
    public async Task BytesAfterTheEnd_AreCorruption()
    {
        byte[] state = await StateAfterAsync(Dataset.Range(0, 10), 2);
        await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 10).CreateIterator();
        await Assert.ThrowsAsync<CheckpointCorruptedException>(async () => await iterator.RestoreStateAsync(new MemoryStream([.. state, 0])));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { (byte)'{', (byte)'}', 0, 0, 0, 0, 0, 0, 0, 0 })]
    public async Task NotAState_IsCorruption(byte[] bytes)
    {
        await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 10).CreateIterator();
        CheckpointCorruptedException ex = await Assert.ThrowsAsync<CheckpointCorruptedException>(async () => await iterator.RestoreStateAsync(new MemoryStream(bytes)));
        Assert.Equal(Dataset.DefaultIteratorName, ex.Key);
    }

    [Fact]
    public async Task NewerFormatVersion_IsAFormatVersionError()
    {
        byte[] state = await StateAfterAsync(Dataset.Range(0, 10), 2);
        BinaryPrimitives.WriteInt32LittleEndian(state.AsSpan(4), PipelineState.FormatVersion + 1);
        await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 10).CreateIterator("train");
        CheckpointFormatVersionException ex = await Assert.ThrowsAsync<CheckpointFormatVersionException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state)));
        Assert.Equal(PipelineState.FormatVersion + 1, ex.FoundVersion);
        Assert.Equal(PipelineState.FormatVersion, ex.SupportedVersion);
        Assert.Equal("train", ex.Key);
    }

    [Fact]
    public async Task StateLayout_StartsWithMagicAndVersion_AndEndsWithItsChecksum()
    {
        byte[] state = await StateAfterAsync(Dataset.Range(0, 10), 2);
        Assert.Equal("IPST"u8.ToArray(), state[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(4)));
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(state.AsSpan(0, state.Length - 4)), BinaryPrimitives.ReadUInt32LittleEndian(state.AsSpan(state.Length - 4)));
    }

    [Fact]
    public async Task RestoreAfterAnElementWasYielded_Throws()
    {
        byte[] state = await StateAfterAsync(Dataset.Range(0, 10), 2);
        await using ICheckpointableIterator<long> iterator = Dataset.Range(0, 10).CreateIterator("train");
        Assert.True(await iterator.MoveNextAsync());
        PipelineAlreadyStartedException ex = await Assert.ThrowsAsync<PipelineAlreadyStartedException>(async () => await iterator.RestoreStateAsync(new MemoryStream(state)));
        Assert.Equal("train", ex.Name);
        Assert.Equal([1L], await ReadAsync(iterator, 1));
    }

    [Fact]
    public async Task AfterAFailedRestore_AGoodRestoreStillWorks()
    {
        Func<Dataset<long>> build = () => Dataset.Range(0, 50).Shuffle(10, 4).Prefetch(2);
        List<long> expected = await ReadAllAsync(build());
        byte[] state = await StateAfterAsync(build(), 17);
        byte[] damaged = (byte[])state.Clone();
        damaged[^10] ^= 0x40;
        await using ICheckpointableIterator<long> iterator = build().CreateIterator();
        await Assert.ThrowsAsync<CheckpointCorruptedException>(async () => await iterator.RestoreStateAsync(new MemoryStream(damaged)));
        await Assert.ThrowsAsync<CheckpointMismatchException>(async () => await iterator.RestoreStateAsync(new MemoryStream(await StateAfterAsync(Dataset.Range(0, 50).Shuffle(11, 4).Prefetch(2), 3))));
        await iterator.RestoreStateAsync(new MemoryStream(state));
        Assert.Equal(expected.Skip(17), await ReadAsync(iterator));
    }

    [Fact]
    public async Task RestoringTwice_TheSecondStateWins()
    {
        Func<Dataset<long>> build = () => Dataset.Range(0, 30).Shuffle(5, 4);
        List<long> expected = await ReadAllAsync(build());
        await using ICheckpointableIterator<long> iterator = build().CreateIterator();
        await iterator.RestoreStateAsync(new MemoryStream(await StateAfterAsync(build(), 5)));
        await iterator.RestoreStateAsync(new MemoryStream(await StateAfterAsync(build(), 12)));
        Assert.Equal(expected.Skip(12), await ReadAsync(iterator));
    }

    [Fact]
    public async Task Snapshot_WrittenAfterTheIteratorMovedOn_HoldsTheCapturedState()
    {
        Func<Dataset<long>> build = () => Dataset.Range(0, 60).Shuffle(10, 8).Batch(3).Prefetch(2).Map(b => b.Sum());
        List<long> expected = await ReadAllAsync(build());
        await using ICheckpointableIterator<long> iterator = build().CreateIterator();
        await ReadAsync(iterator, 4);
        using ICheckpointSnapshot snapshot = iterator.CaptureState();
        Assert.Null(snapshot.Length);
        await ReadAsync(iterator, 5);
        var bytes = new MemoryStream();
        await Task.Run(async () => await snapshot.WriteToAsync(bytes));
        await using ICheckpointableIterator<long> restored = await RestoreAsync(build(), bytes.ToArray());
        Assert.Equal(expected.Skip(4), await ReadAsync(restored));
    }

    [Fact]
    public async Task DisposedIterator_RefusesToCaptureOrMove()
    {
        ICheckpointableIterator<long> iterator = Dataset.Range(0, 10).Prefetch(2).CreateIterator();
        await iterator.MoveNextAsync();
        await iterator.DisposeAsync();
        await iterator.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => iterator.CaptureState());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await iterator.MoveNextAsync());
    }

    [Fact]
    public async Task LargeShuffleBuffer_IsStreamedInChunks_NotCopiedWhole()
    {
        const int Elements = 2_000;
        const int ElementSize = 8 * 1024;
        Func<Dataset<byte[]>> build = () => Dataset.Range(0, Elements + 100).Map(i =>
        {
            byte[] bytes = new byte[ElementSize];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, i);
            bytes[^1] = (byte)i;
            return bytes;
        }).Shuffle(Elements, 5);

        await using ICheckpointableIterator<byte[]> iterator = build().CreateIterator();
        Assert.Equal(10, (await ReadAsync(iterator, 10)).Count);
        using ICheckpointSnapshot snapshot = iterator.CaptureState();
        var destination = new ChunkRecordingStream();
        await snapshot.WriteToAsync(destination);

        Assert.True(destination.Length > (long)Elements * ElementSize, "The whole buffer is in the state.");
        Assert.True(destination.LargestWrite <= 256 * 1024, $"The largest single write was {destination.LargestWrite} bytes.");

        List<byte[]> expectedRest = await ReadAsync(iterator, 50);
        await using ICheckpointableIterator<byte[]> restored = await RestoreAsync(build(), destination.ToArray());
        List<byte[]> rest = await ReadAsync(restored, 50);
        Assert.Equal(expectedRest, rest, SequenceComparer<byte>.Instance);
    }

    private sealed class ChunkRecordingStream : MemoryStream
    {
        public int LargestWrite { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            base.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            LargestWrite = Math.Max(LargestWrite, count);
            base.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            return base.WriteAsync(buffer, cancellationToken);
        }
    }

    private sealed class RenamedInt64Codec : IElementCodec<long>
    {
        public string Name => "int64-v2";

        public void Write(long value, System.Buffers.IBufferWriter<byte> output) => ElementCodecs.Int64Codec.Write(value, output);

        public long Read(ReadOnlySpan<byte> data) => ElementCodecs.Int64Codec.Read(data);
    }
}
