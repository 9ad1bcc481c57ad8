namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>Files read one after the other; the state is the file's index and the byte offset of the next element.</summary>
internal abstract class FileSequenceDataset<T>(string[] paths, string kind, IReadOnlyList<StructureParameter>? options = null) : Dataset<T>(ElementCodecRegistry.Default)
{
    internal override StructureNode Describe() => StructureNode.Create(kind, [StructureParameter.Of("files", paths), .. options ?? []]);

    internal override Node<T> CreateNode(IterationContext context) => new FileSequenceNode(paths, kind, this);

    /// <summary>Reads the element at the cursor; <see langword="false"/> at the end of the file.</summary>
    protected abstract ValueTask<(bool Found, T Value)> ReadAsync(FileCursor cursor, string path, CancellationToken cancellationToken);

    /// <summary>
    /// The fast path: reads into <paramref name="destination"/> the elements whose bytes are all in the cursor's buffer,
    /// without any I/O, and returns how many; stops (leaving it to <see cref="ReadAsync"/>) at anything else, a damaged
    /// element included. None by default.
    /// </summary>
    protected virtual int ReadBuffered(FileCursor cursor, Span<T> destination) => 0;

    /// <summary>Gets the size of a file's read buffer (it grows for an element larger than that); 64 KiB by default.</summary>
    protected virtual int ReadBufferSize => 64 * 1024;

    private sealed class FileSequenceNode(string[] paths, string kind, FileSequenceDataset<T> owner) : Node<T>
    {
        private int _fileIndex;
        private long _offset;
        private FileCursor? _cursor;

        public override int ReadAvailable(Span<T> destination)
        {
            if (_cursor is null)
            {
                return 0;
            }

            int read = owner.ReadBuffered(_cursor, destination);
            if (read > 0)
            {
                _offset = _cursor.Position;
                Current = destination[read - 1];
            }

            return read;
        }

        public override ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) =>
            TryMoveNextAvailable() ? ValueTask.FromResult(true) : MoveNextSlowAsync(cancellationToken);

        private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
        {
            while (_fileIndex < paths.Length)
            {
                _cursor ??= new FileCursor(paths[_fileIndex], _offset, owner.ReadBufferSize);
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

        public override StateWrite Capture(CaptureContext context)
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
