using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// A record file with its index (<c>&lt;path&gt;.idx</c>, as <see cref="RecordFileWriter"/> writes them) read by record
/// number, for <see cref="Dataset.Indexed{T}"/>. Reads are positional and thread-safe; the index is read from disk on
/// demand, not loaded into memory.
/// </summary>
public sealed class IndexedRecordFile : IRandomAccessSource<byte[]>, IDisposable
{
    private readonly SafeFileHandle _data;
    private readonly SafeFileHandle _index;
    private readonly long _dataLength;

    /// <summary>Opens <paramref name="path"/> and its index, and checks that they belong together.</summary>
    /// <param name="path">The record file; its index is <c>path + ".idx"</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file or its index does not exist.</exception>
    /// <exception cref="InvalidDataException">The index is not a whole number of 8-byte entries, or its sentinel does not match the data file's length (the two were not written together).</exception>
    public IndexedRecordFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        _data = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            _index = File.OpenHandle(path + RecordFileWriter.IndexExtension, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch
        {
            _data.Dispose();
            throw;
        }

        try
        {
            _dataLength = RandomAccess.GetLength(_data);
            long indexLength = RandomAccess.GetLength(_index);
            if (indexLength < 8 || indexLength % 8 != 0)
            {
                throw new InvalidDataException($"The index of \"{path}\" holds {indexLength} bytes, not a whole number (at least one) of 8-byte entries.");
            }

            Count = (indexLength / 8) - 1;
            long sentinel = ReadInt64(_index, Count * 8);
            if (sentinel != _dataLength)
            {
                throw new InvalidDataException($"The index of \"{path}\" was written for a data file of {sentinel} bytes, but the file has {_dataLength}: they were not written together.");
            }
        }
        catch
        {
            _data.Dispose();
            _index.Dispose();
            throw;
        }
    }

    /// <summary>Gets the record file's path, as given.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public long Count { get; }

    /// <summary>Gets the identity recorded in the saved structure: <c>records:&lt;path&gt;</c>.</summary>
    public string Identity => "records:" + Path;

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">The index points outside the data file or at a record that runs past its end.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public byte[] Read(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        long offset = ReadInt64(_index, index * 8);
        if (offset < 0 || offset > _dataLength - 4)
        {
            throw new InvalidDataException($"Record {index} of \"{Path}\": the index points at byte {offset}, outside the {_dataLength}-byte file.");
        }

        Span<byte> head = stackalloc byte[4];
        ReadExactly(_data, head, offset);
        int length = BinaryPrimitives.ReadInt32LittleEndian(head);
        if (length < 0 || length > _dataLength - offset - 4)
        {
            throw new InvalidDataException($"Record {index} of \"{Path}\" at byte {offset} claims {length} bytes, past the end of the file.");
        }

        byte[] record = new byte[length];
        ReadExactly(_data, record, offset + 4);
        return record;
    }

    /// <summary>Closes the files.</summary>
    public void Dispose()
    {
        _data.Dispose();
        _index.Dispose();
    }

    private static long ReadInt64(SafeFileHandle handle, long offset)
    {
        Span<byte> bytes = stackalloc byte[8];
        ReadExactly(handle, bytes, offset);
        return BinaryPrimitives.ReadInt64LittleEndian(bytes);
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (!buffer.IsEmpty)
        {
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read == 0)
            {
                throw new InvalidDataException($"Unexpected end of file at byte {offset}.");
            }

            buffer = buffer[read..];
            offset += read;
        }
    }
}
