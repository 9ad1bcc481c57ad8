using System.Buffers.Binary;
using System.IO.Hashing;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// The public face of a running pipeline: yields the root node's elements, and saves and restores the whole node tree in
/// the versioned state format (see <see cref="PipelineStateFormat"/>).
/// </summary>
internal sealed class PipelineIterator<T> : ICheckpointableIterator<T>
{
    private readonly Dataset<T> _dataset;
    private readonly string _name;
    private readonly StructureNode _structure;
    private readonly byte[] _prefix;
    private Node<T> _root;
    private bool _started;
    private bool _disposed;

    public PipelineIterator(Dataset<T> dataset, string name)
    {
        _dataset = dataset;
        _name = name;
        _structure = dataset.Describe();
        _prefix = PipelineStateFormat.BuildPrefix(_structure);
        _root = dataset.CreateNode(IterationContext.Root);
    }

    public T Current => _root.Current;

    // Not async: the root's MoveNextAsync completes synchronously when its fast path has the element, and is returned as it is.
    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            return ValueTask.FromException<bool>(new ObjectDisposedException(GetType().FullName));
        }

        _started = true;
        try
        {
            return _root.MoveNextAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            // Failures surface through the returned task, as they did when this method was async.
            return ValueTask.FromException<bool>(ex);
        }
    }

    public ICheckpointSnapshot CaptureState()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        StateWrite body = _root.Capture();
        byte[] prefix = _prefix;
        return CheckpointSnapshots.FromWriter(async (destination, cancellationToken) =>
        {
            using var writer = new StateWriter(destination);
            writer.WriteRaw(prefix);
            await body(writer, cancellationToken).ConfigureAwait(false);
            await writer.FinishAsync(cancellationToken).ConfigureAwait(false);
        });
    }

    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
        {
            throw new PipelineAlreadyStartedException(_name);
        }

        using var reader = new StateReader(state);
        StructureNode saved;
        try
        {
            saved = await PipelineStateFormat.ReadPrefixAsync(reader, _name, cancellationToken).ConfigureAwait(false);
        }
        catch (StateCorruptException ex)
        {
            throw new CheckpointCorruptedException(_name, ex.Message, ex);
        }

        string? difference = StructureNode.FindDifference(saved, _structure);
        if (difference is not null)
        {
            throw new CheckpointMismatchException(_name, difference + $" The state was saved by \"{saved}\"; this pipeline is \"{_structure}\".");
        }

        Node<T> fresh = _dataset.CreateNode(IterationContext.Root);
        try
        {
            await fresh.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
            await reader.VerifyTrailerAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.AtEndAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new StateCorruptException("there are bytes after the end of the state.");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not CheckpointException)
        {
            await fresh.DisposeAsync().ConfigureAwait(false);
            bool intact;
            try
            {
                intact = ex is not StateCorruptException && await reader.RestIsIntactAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                intact = false;
            }

            if (!intact)
            {
                string reason = ex is StateCorruptException ? ex.Message : $"the state could not be read ({ex.Message}) and its checksum does not match.";
                throw new CheckpointCorruptedException(_name, reason, ex);
            }

            if (ex is StructureMismatchException)
            {
                throw new CheckpointMismatchException(_name, ex.Message);
            }

            throw;
        }
        catch
        {
            await fresh.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Node<T> old = _root;
        _root = fresh;
        await old.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _root.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// The layout of a saved pipeline state (all integers little-endian):
/// <code>
/// magic        4 bytes  "IPST"
/// version      int32    FormatVersion (1)
/// header size  int32    H
/// header       H bytes  the structure description: kind (string), parameter count (int32), each parameter
///                       (name string, shape byte 0 = value string / 1 = list: int32 count + strings),
///                       input count (int32), each input recursively; a string is an int32 UTF-8 byte count + bytes
/// header CRC   uint32   CRC-32 of every byte before it
/// body                  the nodes' states, depth first, as each operator defines it
/// CRC          uint32   CRC-32 of every byte before it
/// </code>
/// </summary>
internal static class PipelineStateFormat
{
    public const int FormatVersion = 1;

    private const int MaxHeaderBytes = 256 * 1024 * 1024;

    private static ReadOnlySpan<byte> Magic => "IPST"u8;

    public static byte[] BuildPrefix(StructureNode structure)
    {
        using var header = new StateWriter(Stream.Null);
        structure.Write(header);
        ReadOnlySpan<byte> headerBytes = header.Buffered;
        byte[] prefix = new byte[4 + 4 + 4 + headerBytes.Length + 4];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(4), FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(8), headerBytes.Length);
        headerBytes.CopyTo(prefix.AsSpan(12));
        uint crc = Crc32.HashToUInt32(prefix.AsSpan(0, 12 + headerBytes.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12 + headerBytes.Length), crc);
        return prefix;
    }

    public static async ValueTask<StructureNode> ReadPrefixAsync(StateReader reader, string name, CancellationToken cancellationToken)
    {
        byte[] magic = await reader.ReadRawAsync(4, cancellationToken).ConfigureAwait(false);
        if (!magic.AsSpan().SequenceEqual(Magic))
        {
            throw new StateCorruptException("it does not start with the pipeline state marker \"IPST\" (not a pipeline state, or damaged).");
        }

        int version = await reader.ReadInt32Async(cancellationToken).ConfigureAwait(false);
        if (version > FormatVersion)
        {
            throw new CheckpointFormatVersionException(name, version, FormatVersion);
        }

        if (version < 1)
        {
            throw new StateCorruptException($"format version {version} is not a valid version.");
        }

        int size = await reader.ReadInt32Async(0, MaxHeaderBytes, "the header size", cancellationToken).ConfigureAwait(false);
        byte[] header = await reader.ReadRawAsync(size, cancellationToken).ConfigureAwait(false);
        uint computed = reader.CurrentCrc();
        uint found = await reader.ReadUInt32Async(cancellationToken).ConfigureAwait(false);
        if (computed != found)
        {
            throw new StateCorruptException($"header checksum mismatch: the state records CRC-32 {found:x8}, the header hashes to {computed:x8}.");
        }

        using var headerReader = new StateReader(new MemoryStream(header, writable: false));
        StructureNode structure = await StructureNode.ReadAsync(headerReader, cancellationToken).ConfigureAwait(false);
        if (!await headerReader.AtEndAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new StateCorruptException("the header has bytes after the structure description.");
        }

        return structure;
    }
}
