using InputPipeline.Checkpointing.Pipeline.Internal;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// Writes TFRecord files, byte for byte as TensorFlow's <c>tf.io.TFRecordWriter</c> does without compression: each record
/// is its length (uint64, little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the
/// data, with nothing before the first record or after the last. Read them with <see cref="Dataset.TFRecords(IEnumerable{string}, TFRecordCorruption)"/>.
/// </summary>
/// <remarks>Not thread-safe. The destination is written through as records come; <see cref="WriteAll"/> writes a whole file safely.</remarks>
public sealed class TFRecordWriter : IDisposable, IAsyncDisposable
{
    private readonly Stream _destination;
    private readonly bool _leaveOpen;
    private readonly byte[] _frame = new byte[TFRecordFormat.HeaderSize];
    private bool _disposed;

    /// <summary>Starts writing records to <paramref name="destination"/>, at its current position.</summary>
    /// <param name="destination">A writable stream.</param>
    /// <param name="leaveOpen">Whether disposing the writer leaves <paramref name="destination"/> open; default <see langword="false"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not writable.</exception>
    public TFRecordWriter(Stream destination, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            throw new ArgumentException("The destination stream is not writable.", nameof(destination));
        }

        _destination = destination;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Gets the number of records written.</summary>
    public long Count { get; private set; }

    /// <summary>Appends a record.</summary>
    /// <param name="record">The record's bytes; may be empty.</param>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    /// <exception cref="IOException">The destination failed.</exception>
    public void Write(ReadOnlySpan<byte> record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> frame = stackalloc byte[TFRecordFormat.HeaderSize];
        TFRecordFormat.WriteHeader(frame, (ulong)record.Length);
        _destination.Write(frame);
        _destination.Write(record);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame, TFRecordFormat.MaskedCrc(record));
        _destination.Write(frame[..TFRecordFormat.FooterSize]);
        Count++;
    }

    /// <summary>Appends a record.</summary>
    /// <param name="record">The record's bytes; may be empty.</param>
    /// <param name="cancellationToken">Cancels the write; the destination may then hold part of the record.</param>
    /// <returns>A task that completes when the record is written to the destination.</returns>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    /// <exception cref="IOException">The destination failed.</exception>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TFRecordFormat.WriteHeader(_frame, (ulong)record.Length);
        await _destination.WriteAsync(_frame, cancellationToken).ConfigureAwait(false);
        await _destination.WriteAsync(record, cancellationToken).ConfigureAwait(false);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(_frame, TFRecordFormat.MaskedCrc(record.Span));
        await _destination.WriteAsync(_frame.AsMemory(0, TFRecordFormat.FooterSize), cancellationToken).ConfigureAwait(false);
        Count++;
    }

    /// <summary>Flushes the destination.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _destination.Flush();
    }

    /// <summary>
    /// Writes a whole TFRecord file safely: into a temporary file in the same folder (<c>&lt;path&gt;.tmp-&lt;id&gt;</c>),
    /// flushed to disk, then renamed over <paramref name="path"/>, so a killed writer never leaves a partial file under
    /// that name.
    /// </summary>
    /// <param name="path">The file; its folder must exist.</param>
    /// <param name="records">The records.</param>
    /// <returns>The number of records written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="records"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">Writing failed; nothing is left under <paramref name="path"/>.</exception>
    public static long WriteAll(string path, IEnumerable<byte[]> records)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(records);
        string full = Path.GetFullPath(path);
        string temp = $"{full}.tmp-{Guid.NewGuid():N}";
        try
        {
            long count;
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024))
            {
                using var writer = new TFRecordWriter(file, leaveOpen: true);
                foreach (byte[] record in records)
                {
                    ArgumentNullException.ThrowIfNull(record, nameof(records));
                    writer.Write(record);
                }

                count = writer.Count;
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
            return count;
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Flushes and, unless it was left open, closes the destination. Safe to call more than once.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _destination.Flush();
        if (!_leaveOpen)
        {
            _destination.Dispose();
        }
    }

    /// <summary>Flushes and, unless it was left open, closes the destination. Safe to call more than once.</summary>
    /// <returns>A task that completes when done.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _destination.FlushAsync().ConfigureAwait(false);
        if (!_leaveOpen)
        {
            await _destination.DisposeAsync().ConfigureAwait(false);
        }
    }
}
