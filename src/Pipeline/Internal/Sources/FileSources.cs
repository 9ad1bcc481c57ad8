using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// A read cursor over a file with positional reads (no shared stream position), so a cancelled read leaves it
/// consistent: <see cref="Position"/> is always the offset of the first unconsumed byte.
/// </summary>
internal sealed class FileCursor : IDisposable
{
    private const int InitialBuffer = 64 * 1024;

    private readonly SafeFileHandle _handle;
    private byte[] _buffer = new byte[InitialBuffer];
    private long _bufferOffset;
    private int _start;
    private int _end;
    private bool _endOfFile;

    public FileCursor(string path, long offset)
    {
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        _bufferOffset = offset;
    }

    public long Position => _bufferOffset + _start;

    /// <summary>Gets the file's current length.</summary>
    public long FileLength => RandomAccess.GetLength(_handle);

    public ReadOnlySpan<byte> Available => _buffer.AsSpan(_start, _end - _start);

    public void Advance(int count) => _start += count;

    /// <summary>Reads until at least <paramref name="count"/> bytes are available; <see langword="false"/> if the file ends first.</summary>
    public async ValueTask<bool> EnsureAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (!await ReadMoreAsync(count, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads more bytes after those available; <see langword="false"/> at the end of the file.</summary>
    public async ValueTask<bool> ReadMoreAsync(int wanted, CancellationToken cancellationToken)
    {
        if (_endOfFile)
        {
            return false;
        }

        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length || wanted > _buffer.Length)
        {
            Array.Resize(ref _buffer, (int)Math.Min(Array.MaxLength, Math.Max((long)_buffer.Length * 2, wanted)));
        }

        int read = await RandomAccess.ReadAsync(_handle, _buffer.AsMemory(_end), _bufferOffset + _end, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            _endOfFile = true;
            return false;
        }

        _end += read;
        return true;
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>Files read one after the other; the state is the file's index and the byte offset of the next element.</summary>
internal abstract class FileSequenceDataset<T>(string[] paths, string kind) : Dataset<T>(ElementCodecRegistry.Default)
{
    internal override StructureNode Describe() => StructureNode.Create(kind, [StructureParameter.Of("files", paths)]);

    internal override Node<T> CreateNode(IterationContext context) => new FileSequenceNode(paths, kind, this);

    /// <summary>Reads the element at the cursor; <see langword="false"/> at the end of the file.</summary>
    protected abstract ValueTask<(bool Found, T Value)> ReadAsync(FileCursor cursor, string path, CancellationToken cancellationToken);

    private sealed class FileSequenceNode(string[] paths, string kind, FileSequenceDataset<T> owner) : Node<T>
    {
        private int _fileIndex;
        private long _offset;
        private FileCursor? _cursor;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (_fileIndex < paths.Length)
            {
                _cursor ??= new FileCursor(paths[_fileIndex], _offset);
                (bool found, T value) = await owner.ReadAsync(_cursor, paths[_fileIndex], cancellationToken).ConfigureAwait(false);
                if (found)
                {
                    _offset = _cursor.Position;
                    Current = value;
                    return true;
                }

                _cursor.Dispose();
                _cursor = null;
                _fileIndex++;
                _offset = 0;
            }

            return false;
        }

        public override StateWrite Capture()
        {
            int fileIndex = _fileIndex;
            long offset = _offset;
            return (writer, _) =>
            {
                writer.WriteInt32(fileIndex);
                writer.WriteInt64(offset);
                return ValueTask.CompletedTask;
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _fileIndex = await reader.ReadInt32Async(0, paths.Length, $"the {kind} file index", cancellationToken).ConfigureAwait(false);
            _offset = await reader.ReadInt64Async(0, long.MaxValue, $"the {kind} byte offset", cancellationToken).ConfigureAwait(false);
            if (_fileIndex < paths.Length && _offset > 0)
            {
                var info = new FileInfo(paths[_fileIndex]);
                if (info.Exists && info.Length < _offset)
                {
                    throw new StructureMismatchException($"saved {kind} at byte {_offset} of \"{paths[_fileIndex]}\" but the file now has only {info.Length} bytes; it changed since the state was saved.");
                }
            }
        }

        protected override ValueTask ReleaseAsync()
        {
            _cursor?.Dispose();
            _cursor = null;
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>UTF-8 lines without their line ends; a leading byte-order mark is skipped.</summary>
internal sealed class TextLinesDataset(string[] paths) : FileSequenceDataset<string>(paths, "text_lines")
{
    protected override async ValueTask<(bool Found, string Value)> ReadAsync(FileCursor cursor, string path, CancellationToken cancellationToken)
    {
        if (cursor.Position == 0 && await cursor.EnsureAsync(3, cancellationToken).ConfigureAwait(false) && cursor.Available[..3].SequenceEqual("\uFEFF"u8))
        {
            cursor.Advance(3);
        }

        int searched = 0;
        while (true)
        {
            ReadOnlySpan<byte> available = cursor.Available;
            int newline = available[searched..].IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int length = searched + newline;
                string line = Decode(available[..length]);
                cursor.Advance(length + 1);
                return (true, line);
            }

            searched = available.Length;
            if (!await cursor.ReadMoreAsync(searched + 1, cancellationToken).ConfigureAwait(false))
            {
                ReadOnlySpan<byte> rest = cursor.Available;
                if (rest.IsEmpty)
                {
                    return (false, string.Empty);
                }

                string last = Decode(rest);
                cursor.Advance(rest.Length);
                return (true, last);
            }
        }
    }

    private static string Decode(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        return Encoding.UTF8.GetString(line);
    }
}

/// <summary>Records: a 4-byte little-endian length and that many bytes.</summary>
internal sealed class RecordsDataset(string[] paths) : FileSequenceDataset<byte[]>(paths, "records")
{
    protected override async ValueTask<(bool Found, byte[] Value)> ReadAsync(FileCursor cursor, string path, CancellationToken cancellationToken)
    {
        if (!await cursor.EnsureAsync(4, cancellationToken).ConfigureAwait(false))
        {
            return cursor.Available.IsEmpty
                ? (false, [])
                : throw new InvalidDataException($"Record file \"{path}\" ends inside a record's length, at byte {cursor.Position}.");
        }

        int length = BinaryPrimitives.ReadInt32LittleEndian(cursor.Available);
        if (length < 0 || length > Array.MaxLength - 4 || cursor.Position + 4 + length > cursor.FileLength)
        {
            if (length >= 0)
            {
                throw new InvalidDataException($"Record file \"{path}\" ends inside the {length}-byte record at byte {cursor.Position}.");
            }

            throw new InvalidDataException($"Record file \"{path}\" has an impossible record length {length} at byte {cursor.Position}.");
        }

        if (!await cursor.EnsureAsync(4 + length, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidDataException($"Record file \"{path}\" ends inside the {length}-byte record at byte {cursor.Position}.");
        }

        byte[] record = cursor.Available.Slice(4, length).ToArray();
        cursor.Advance(4 + length);
        return (true, record);
    }
}
