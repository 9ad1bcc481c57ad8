using System.Buffers.Binary;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// Writes a record file (each record a 4-byte little-endian length and that many bytes) and, optionally, its index
/// (<c>&lt;path&gt;.idx</c>: the 8-byte little-endian offset of every record, then the data file's length as a sentinel),
/// safely: everything goes to temporary files in the same folder, which <see cref="Commit"/> flushes to disk and renames
/// to their final names. A process killed before the commit leaves nothing under the final names (only temporary files,
/// named <c>&lt;name&gt;.tmp-&lt;id&gt;</c>); disposing an uncommitted writer deletes them.
/// </summary>
/// <remarks>
/// The index is renamed first and the data file last, so an existing data file is complete. When a file is overwritten
/// and the process dies between the two renames, a new index may sit beside the old data file;
/// <see cref="IndexedRecordFile"/> detects that through the sentinel. Not thread-safe.
/// </remarks>
public sealed class RecordFileWriter : IDisposable, IAsyncDisposable
{
    /// <summary>The extension appended to a record file's path for its index: <c>.idx</c>.</summary>
    public const string IndexExtension = ".idx";

    /// <summary>The largest record accepted, in bytes: <see cref="int.MaxValue"/>.</summary>
    public const int MaxRecordLength = int.MaxValue;

    private const int BufferSize = 64 * 1024;

    private readonly string _dataTemp;
    private readonly string? _indexTemp;
    private FileStream? _data;
    private FileStream? _index;
    private long _offset;
    private bool _committed;

    /// <summary>Starts writing the record file <paramref name="path"/>.</summary>
    /// <param name="path">The final path of the record file; its folder must exist.</param>
    /// <param name="writeIndex">Whether to write the index <c>&lt;path&gt;.idx</c> too (needed by <see cref="IndexedRecordFile"/>); default <see langword="true"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">The temporary file cannot be created.</exception>
    public RecordFileWriter(string path, bool writeIndex = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        string id = Guid.NewGuid().ToString("N");
        _dataTemp = $"{Path}.tmp-{id}";
        _data = new FileStream(_dataTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize);
        if (writeIndex)
        {
            _indexTemp = $"{Path}{IndexExtension}.tmp-{id}";
            _index = new FileStream(_indexTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize);
        }
    }

    /// <summary>Gets the final path of the record file.</summary>
    public string Path { get; }

    /// <summary>Gets the path of the index, or <see langword="null"/> when no index is written.</summary>
    public string? IndexPath => _indexTemp is null ? null : Path + IndexExtension;

    /// <summary>Gets the number of records written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends a record.</summary>
    /// <param name="record">The record's bytes.</param>
    /// <exception cref="ObjectDisposedException">The writer was committed or disposed.</exception>
    public void Write(ReadOnlySpan<byte> record)
    {
        FileStream data = _data ?? throw new ObjectDisposedException(nameof(RecordFileWriter), "The record file was committed or abandoned.");
        Span<byte> head = stackalloc byte[8];
        WriteIndexEntry(head);
        BinaryPrimitives.WriteInt32LittleEndian(head, record.Length);
        data.Write(head[..4]);
        data.Write(record);
        Advance(record.Length);
    }

    /// <summary>Appends a record.</summary>
    /// <param name="record">The record's bytes.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the record is buffered or written.</returns>
    /// <exception cref="ObjectDisposedException">The writer was committed or disposed.</exception>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        FileStream data = _data ?? throw new ObjectDisposedException(nameof(RecordFileWriter), "The record file was committed or abandoned.");
        byte[] head = new byte[8];
        WriteIndexEntry(head);
        BinaryPrimitives.WriteInt32LittleEndian(head, record.Length);
        await data.WriteAsync(head.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        await data.WriteAsync(record, cancellationToken).ConfigureAwait(false);
        Advance(record.Length);
    }

    /// <summary>
    /// Finishes the file: writes the index's sentinel, flushes both files to disk, and renames them to their final
    /// names (replacing existing files), the index first. The writer cannot be used afterwards.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The writer was already committed or disposed.</exception>
    /// <exception cref="IOException">Flushing or renaming failed; the temporary files are deleted on dispose.</exception>
    public void Commit()
    {
        FileStream data = _data ?? throw new ObjectDisposedException(nameof(RecordFileWriter), "The record file was committed or abandoned.");
        if (_index is not null)
        {
            Span<byte> sentinel = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(sentinel, _offset);
            _index.Write(sentinel);
            _index.Flush(flushToDisk: true);
            _index.Dispose();
            _index = null;
        }

        data.Flush(flushToDisk: true);
        data.Dispose();
        _data = null;
        if (_indexTemp is not null)
        {
            File.Move(_indexTemp, Path + IndexExtension, overwrite: true);
        }

        File.Move(_dataTemp, Path, overwrite: true);
        _committed = true;
    }

    /// <summary>Writes a whole record file (and its index) safely: see <see cref="RecordFileWriter"/>.</summary>
    /// <param name="path">The final path.</param>
    /// <param name="records">The records.</param>
    /// <param name="writeIndex">Whether to write the index; default <see langword="true"/>.</param>
    /// <returns>The number of records written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="records"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">Writing failed; nothing is left under the final names.</exception>
    public static long WriteAll(string path, IEnumerable<byte[]> records, bool writeIndex = true)
    {
        ArgumentNullException.ThrowIfNull(records);
        using var writer = new RecordFileWriter(path, writeIndex);
        foreach (byte[] record in records)
        {
            ArgumentNullException.ThrowIfNull(record, nameof(records));
            writer.Write(record);
        }

        writer.Commit();
        return writer.Count;
    }

    /// <summary>Abandons an uncommitted file: closes and deletes the temporary files. Safe to call more than once.</summary>
    public void Dispose()
    {
        _data?.Dispose();
        _index?.Dispose();
        _data = null;
        _index = null;
        if (!_committed)
        {
            TryDelete(_dataTemp);
            if (_indexTemp is not null)
            {
                TryDelete(_indexTemp);
            }
        }
    }

    /// <summary>Abandons an uncommitted file, as <see cref="Dispose"/>.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file never shadows a final name.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }

    private void WriteIndexEntry(Span<byte> scratch)
    {
        if (_index is not null)
        {
            BinaryPrimitives.WriteInt64LittleEndian(scratch, _offset);
            _index.Write(scratch[..8]);
        }
    }

    private void Advance(int length)
    {
        _offset += 4L + length;
        Count++;
    }
}
