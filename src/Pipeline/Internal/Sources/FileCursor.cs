using Microsoft.Win32.SafeHandles;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// A read cursor over a file with positional reads (no shared stream position), so a cancelled read leaves it
/// consistent: <see cref="Position"/> is always the offset of the first unconsumed byte.
/// </summary>
internal sealed class FileCursor : IDisposable
{
    private readonly SafeFileHandle _handle;
    private byte[] _buffer;
    private long _bufferOffset;
    private int _start;
    private int _end;
    private bool _endOfFile;

    public FileCursor(string path, long offset, int bufferSize)
    {
        _buffer = new byte[bufferSize];
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        _bufferOffset = offset;
    }

    public long Position => _bufferOffset + _start;

    /// <summary>Gets the file's current length.</summary>
    public long FileLength => RandomAccess.GetLength(_handle);

    public ReadOnlySpan<byte> Available => _buffer.AsSpan(_start, _end - _start);

    public void Advance(int count) => _start += count;

    /// <summary>Moves to the end of the file, dropping what is buffered: the rest of the file is not read.</summary>
    public void SkipToEnd()
    {
        _bufferOffset = FileLength;
        _start = 0;
        _end = 0;
        _endOfFile = true;
    }

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
