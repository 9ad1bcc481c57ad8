using InputPipeline.Checkpointing.Pipeline.Internal;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>The sources of checkpointable pipelines: ranges, lists, text and record files, store objects, and random-access sources in index mode.</summary>
public static class Dataset
{
    /// <summary>The iterator name <see cref="Dataset{T}.CreateIterator(string)"/> uses by default: <c>pipeline</c>.</summary>
    public const string DefaultIteratorName = "pipeline";

    /// <summary>The step of <see cref="Range"/> by default: 1.</summary>
    public const long DefaultRangeStep = 1;

    /// <summary>The number of consecutive elements <see cref="Dataset{T}.Interleave{TOut}(Func{T, Dataset{TOut}}, int, int, string?)"/> takes from one dataset by default: 1.</summary>
    public const int DefaultBlockLength = 1;

    /// <summary>The number of workers of <see cref="Indexed{T}"/> by default: 1 (no sharding).</summary>
    public const int DefaultShardCount = 1;

    /// <summary>Yields <paramref name="start"/>, <c>start + step</c>, … up to (excluding) <paramref name="end"/>, like Python's <c>range</c>. The state is the position.</summary>
    /// <param name="start">The first value.</param>
    /// <param name="end">The bound, not included.</param>
    /// <param name="step">The increment, not 0; negative counts down; default <see cref="DefaultRangeStep"/> (1).</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is 0.</exception>
    public static Dataset<long> Range(long start, long end, long step = DefaultRangeStep)
    {
        ArgumentOutOfRangeException.ThrowIfZero(step);
        return new RangeDataset(start, end, step);
    }

    /// <summary>Yields the items of <paramref name="items"/>, which are copied now. The state is the position.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="items">The items; the list is copied, the items themselves are not and must not change.</param>
    /// <returns>The dataset. Its structure records the item count and type, not the items.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> is null.</exception>
    public static Dataset<T> FromList<T>(IReadOnlyList<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        T[] copy = [.. items];
        return new ListDataset<T>(copy, StructureNode.Create(
            "from_list",
            [StructureParameter.Of("count", copy.Length), StructureParameter.Of("type", typeof(T).Name)]));
    }

    /// <summary>Yields the lines of a UTF-8 text file. See <see cref="TextLines(IEnumerable{string})"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public static Dataset<string> TextLines(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return TextLines([path]);
    }

    /// <summary>
    /// Yields the lines of UTF-8 text files, one file after the other, without their line ends (<c>\n</c> or <c>\r\n</c>;
    /// a leading byte-order mark is skipped; invalid UTF-8 becomes U+FFFD). The state is the file's index and the byte
    /// offset of the next line: a restored iterator opens the file and seeks to that offset, without reading what comes
    /// before. A file that is now shorter than the saved offset is reported as a <see cref="CheckpointMismatchException"/>.
    /// </summary>
    /// <param name="paths">The files, in order. Their paths, as given, are the source's identity in the saved structure.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    /// <remarks>Files are opened when first read; a missing file fails that <c>MoveNextAsync</c> with the file system's exception.</remarks>
    public static Dataset<string> TextLines(IEnumerable<string> paths) => new TextLinesDataset(CheckPaths(paths));

    /// <summary>Yields the records of a record file. See <see cref="Records(IEnumerable{string})"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public static Dataset<byte[]> Records(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Records([path]);
    }

    /// <summary>
    /// Yields the records of record files (each record a 4-byte little-endian length and that many bytes, as
    /// <see cref="RecordFileWriter"/> writes them), one file after the other. The state is the file's index and the byte
    /// offset of the next record; a restored iterator seeks there. A file that ends inside a record fails with
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    /// <param name="paths">The files, in order; their paths are the source's identity in the saved structure.</param>
    /// <returns>The dataset; every record is a new array.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    public static Dataset<byte[]> Records(IEnumerable<string> paths) => new RecordsDataset(CheckPaths(paths));

    /// <summary>Yields the records of a TFRecord file. See <see cref="TFRecords(IEnumerable{string}, TFRecordCorruption)"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="onCorruption">What to do with a damaged record; default <see cref="TFRecordCorruption.Throw"/>.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="onCorruption"/> is not defined.</exception>
    public static Dataset<byte[]> TFRecords(string path, TFRecordCorruption onCorruption = TFRecordCorruption.Throw)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return TFRecords([path], onCorruption);
    }

    /// <summary>
    /// Yields the records of TFRecord files (TensorFlow's format, uncompressed: each record a uint64 length, the masked
    /// CRC-32C of the length, the data and the masked CRC-32C of the data), one file after the other. Both CRCs are
    /// checked; a damaged record throws <see cref="TFRecordCorruptedException"/> naming the file and the record's byte
    /// offset, or is skipped (<see cref="TFRecordCorruption.Skip"/>). The state is the file's index and the byte offset of
    /// the next record; a restored iterator seeks there.
    /// </summary>
    /// <param name="paths">The files, in order; their paths are the source's identity in the saved structure.</param>
    /// <param name="onCorruption">What to do with a damaged record; default <see cref="TFRecordCorruption.Throw"/>. Skipping is recorded in the structure.</param>
    /// <returns>The dataset; every record is a new array.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="onCorruption"/> is not defined.</exception>
    /// <remarks>Write such files with <see cref="TFRecordWriter"/> or TensorFlow's <c>tf.io.TFRecordWriter</c>.</remarks>
    public static Dataset<byte[]> TFRecords(IEnumerable<string> paths, TFRecordCorruption onCorruption = TFRecordCorruption.Throw)
    {
        string[] list = CheckPaths(paths);
        return new TFRecordsDataset(list, CheckCorruption(onCorruption));
    }

    /// <summary>
    /// Yields the records of the TFRecord objects of <paramref name="store"/> whose keys start with
    /// <paramref name="prefix"/>, in key order (ordinal), both CRCs checked, as <see cref="TFRecords(IEnumerable{string}, TFRecordCorruption)"/>
    /// does for files; the exception names the object's key. The state is the current key and the byte offset in it; a
    /// restored iterator continues that object with a ranged read. Interleave several of them to read shards at once:
    /// <c>Dataset.FromList(keys).Interleave(k =&gt; Dataset.TFRecords(store, k), 8, 1, 8)</c>.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="prefix">The key prefix; the empty string reads every object.</param>
    /// <param name="onCorruption">What to do with a damaged record; default <see cref="TFRecordCorruption.Throw"/>.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="prefix"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="onCorruption"/> is not defined.</exception>
    public static Dataset<byte[]> TFRecords(IInputStateStore store, string prefix, TFRecordCorruption onCorruption = TFRecordCorruption.Throw)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        return new StoreObjectsDataset(store, prefix, StoreObjectFormat.TFRecord, CheckCorruption(onCorruption));
    }

    /// <summary>
    /// Yields the paths of files, for example to interleave over them:
    /// <c>Dataset.Files(paths).Interleave(p =&gt; Dataset.Records(p), cycleLength: 4)</c>.
    /// </summary>
    /// <param name="paths">The paths, in order; they are the source's identity in the saved structure.</param>
    /// <returns>The dataset of paths.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    public static Dataset<string> Files(IEnumerable<string> paths)
    {
        string[] list = CheckPaths(paths);
        return new ListDataset<string>(list, StructureNode.Create("files", [StructureParameter.Of("paths", list)]));
    }

    /// <summary>Yields the paths of the files in <paramref name="directory"/> that match <paramref name="searchPattern"/>, in ordinal order, as listed now.</summary>
    /// <param name="directory">The folder.</param>
    /// <param name="searchPattern">The file-name pattern; default <c>*</c>.</param>
    /// <returns>The dataset of paths.</returns>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static Dataset<string> Files(string directory, string searchPattern = "*")
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(searchPattern);
        string[] files = Directory.GetFiles(directory, searchPattern, SearchOption.TopDirectoryOnly);
        Array.Sort(files, StringComparer.Ordinal);
        return Files(files);
    }

    /// <summary>
    /// Yields, in key order (ordinal), the objects of <paramref name="store"/> whose keys start with
    /// <paramref name="prefix"/>: their records (<see cref="StoreObjectFormat.Records"/>, the default) or their whole
    /// contents. The keys are listed at the first element. The state is the current key and the byte offset in it; a
    /// restored iterator continues that object with a ranged read (<see cref="IInputStateStore.ReadAsync"/> at the offset).
    /// If the saved key no longer exists, it continues with the next key after it.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="prefix">The key prefix; the empty string reads every object.</param>
    /// <param name="format">How to split an object into elements; default <see cref="StoreObjectFormat.Records"/>.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="prefix"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not defined.</exception>
    public static Dataset<byte[]> StoreObjects(IInputStateStore store, string prefix, StoreObjectFormat format = StoreObjectFormat.Records)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown store object format.");
        }

        return new StoreObjectsDataset(store, prefix, format);
    }

    /// <summary>
    /// Index mode: yields the elements of a random-access source in a seeded global order, a fresh permutation of
    /// [0, Count) per epoch (a keyed Feistel network with cycle walking, no O(N) table), split between workers by
    /// position: worker <paramref name="shardIndex"/> of <paramref name="shardCount"/> reads global positions
    /// <c>cursor + shardIndex</c>, <c>cursor + shardIndex + shardCount</c>, …
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="source">The source.</param>
    /// <param name="seed">The seed of the global order.</param>
    /// <param name="shardCount">The number of workers, at least 1; default <see cref="DefaultShardCount"/> (1).</param>
    /// <param name="shardIndex">This worker's index, in [0, <paramref name="shardCount"/>); default 0.</param>
    /// <param name="epochs">The number of passes, 0 or more; <see langword="null"/> (the default) is forever.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The source's count is negative, <paramref name="shardCount"/> is less than 1, <paramref name="shardIndex"/> is outside [0, shardCount), or <paramref name="epochs"/> is negative.</exception>
    /// <remarks>
    /// <para>
    /// The state is O(1): the epoch and the global cursor at the step boundary (the position of worker 0's next element;
    /// after k elements per worker it is k·shardCount). It does not depend on the worker, so a job can resume with a
    /// different number of workers: worker j of m, restored from any worker's state, continues at cursor + j with stride
    /// m, and what was consumed before plus after is exactly one pass of the global order, with no duplicate and no gap.
    /// For that, every worker must save after the same number of elements, with no read-ahead (<c>Prefetch</c>,
    /// <c>Shuffle</c>, <c>Filter</c>) between this source and the saved iterator; otherwise resume with the same workers.
    /// </para>
    /// <para>
    /// The seed and the source's count and identity are part of the saved structure (a change is a
    /// <see cref="CheckpointMismatchException"/>); the shard count, shard index and number of epochs are not.
    /// </para>
    /// </remarks>
    public static Dataset<T> Indexed<T>(IRandomAccessSource<T> source, ulong seed, int shardCount = DefaultShardCount, int shardIndex = 0, int? epochs = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(source.Count, nameof(source));
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(shardIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shardIndex, shardCount);
        if (epochs is { } e)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(e, nameof(epochs));
        }

        return new IndexedDataset<T>(source, seed, shardCount, shardIndex, epochs);
    }

    private static TFRecordCorruption CheckCorruption(TFRecordCorruption onCorruption) =>
        Enum.IsDefined(onCorruption) ? onCorruption : throw new ArgumentOutOfRangeException(nameof(onCorruption), onCorruption, "Unknown TFRecord corruption handling.");

    private static string[] CheckPaths(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        string[] list = [.. paths];
        foreach (string path in list)
        {
            ArgumentException.ThrowIfNullOrEmpty(path, nameof(paths));
        }

        return list;
    }
}

/// <summary>How <see cref="Dataset.StoreObjects"/> turns an object into elements.</summary>
public enum StoreObjectFormat
{
    /// <summary>Each object holds records: a 4-byte little-endian length and that many bytes, repeated (the format of <see cref="RecordFileWriter"/>).</summary>
    Records = 0,

    /// <summary>Each object is one element: its whole content.</summary>
    WholeObject = 1,

    /// <summary>Each object is a TFRecord file; damaged records throw <see cref="TFRecordCorruptedException"/> (see <see cref="Dataset.TFRecords(IInputStateStore, string, TFRecordCorruption)"/> to skip them).</summary>
    TFRecord = 2,
}
