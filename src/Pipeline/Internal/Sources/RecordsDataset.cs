using System.Buffers.Binary;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

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
