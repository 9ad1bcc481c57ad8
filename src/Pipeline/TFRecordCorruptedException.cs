namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// A TFRecord file or store object is damaged at <see cref="Offset"/>: a length or data CRC-32C does not match, the
/// length is impossible, or the file ends inside a record. Thrown by the TFRecord sources unless they skip damaged
/// records (<see cref="TFRecordCorruption.Skip"/>).
/// </summary>
public class TFRecordCorruptedException : CheckpointCorruptedException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file's path or the store object's key (<see cref="CheckpointCorruptedException.Key"/>).</param>
    /// <param name="offset">The byte offset of the damaged record's start.</param>
    /// <param name="reason">What is wrong with it.</param>
    public TFRecordCorruptedException(string source, long offset, string reason)
        : base(source, $"TFRecord at byte {offset}: {reason}")
    {
        Offset = offset;
    }

    /// <summary>Gets the byte offset of the damaged record's start.</summary>
    public long Offset { get; }
}
