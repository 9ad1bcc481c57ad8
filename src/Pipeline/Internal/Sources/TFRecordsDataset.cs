namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>TFRecord files (<see cref="TFRecordFormat"/>), both CRCs checked; the state is the file's index and the byte offset of the next record.</summary>
internal sealed class TFRecordsDataset(string[] paths, TFRecordCorruption onCorruption)
    : FileSequenceDataset<byte[]>(paths, "tfrecord", TFRecordFormat.Parameters(onCorruption))
{
    // Fewer, larger reads: most records are then parsed from the buffer by the fast path.
    protected override int ReadBufferSize => 256 * 1024;

    protected override async ValueTask<(bool Found, byte[] Value)> ReadAsync(FileCursor cursor, string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            long start = cursor.Position;
            if (!await cursor.EnsureAsync(TFRecordFormat.HeaderSize, cancellationToken).ConfigureAwait(false))
            {
                return cursor.Available.IsEmpty
                    ? (false, [])
                    : Damaged(cursor, path, start, $"the file ends inside a record's header ({cursor.Available.Length} of {TFRecordFormat.HeaderSize} bytes).");
            }

            if (!TFRecordFormat.TryReadHeader(cursor.Available, out ulong length))
            {
                return Damaged(cursor, path, start, "the CRC-32C of the record's length does not match; the length cannot be trusted.");
            }

            if (length > (ulong)(Array.MaxLength - TFRecordFormat.HeaderSize - TFRecordFormat.FooterSize))
            {
                return Damaged(cursor, path, start, $"the record's length {length} is larger than a record can be.");
            }

            int total = TFRecordFormat.HeaderSize + (int)length + TFRecordFormat.FooterSize;
            if ((cursor.Available.Length < total && start + total > cursor.FileLength)
                || !await cursor.EnsureAsync(total, cancellationToken).ConfigureAwait(false))
            {
                return Damaged(cursor, path, start, $"the file ends inside the {length}-byte record.");
            }

            ReadOnlySpan<byte> frame = cursor.Available[..total];
            ReadOnlySpan<byte> data = frame.Slice(TFRecordFormat.HeaderSize, (int)length);
            if (!TFRecordFormat.DataMatches(data, frame[^TFRecordFormat.FooterSize..]))
            {
                if (onCorruption == TFRecordCorruption.Skip)
                {
                    // The length was sound: the next record starts after this one.
                    cursor.Advance(total);
                    continue;
                }

                throw new TFRecordCorruptedException(path, start, $"the CRC-32C of the {length}-byte record's data does not match.");
            }

            byte[] record = data.ToArray();
            cursor.Advance(total);
            return (true, record);
        }
    }

    protected override int ReadBuffered(FileCursor cursor, Span<byte[]> destination)
    {
        int read = 0;
        while (read < destination.Length)
        {
            ReadOnlySpan<byte> available = cursor.Available;
            if (available.Length < TFRecordFormat.HeaderSize
                || !TFRecordFormat.TryReadHeader(available, out ulong length)
                || length > (ulong)Math.Max(0, available.Length - TFRecordFormat.HeaderSize - TFRecordFormat.FooterSize))
            {
                break;
            }

            ReadOnlySpan<byte> data = available.Slice(TFRecordFormat.HeaderSize, (int)length);
            if (!TFRecordFormat.DataMatches(data, available.Slice(TFRecordFormat.HeaderSize + (int)length, TFRecordFormat.FooterSize)))
            {
                break;
            }

            destination[read++] = data.ToArray();
            cursor.Advance(TFRecordFormat.HeaderSize + (int)length + TFRecordFormat.FooterSize);
        }

        return read;
    }

    /// <summary>Throws, or when skipping, ends the file: what follows a damaged length or a cut-short record cannot be found.</summary>
    private (bool Found, byte[] Value) Damaged(FileCursor cursor, string path, long offset, string reason)
    {
        if (onCorruption == TFRecordCorruption.Skip)
        {
            cursor.SkipToEnd();
            return (false, []);
        }

        throw new TFRecordCorruptedException(path, offset, reason);
    }
}
