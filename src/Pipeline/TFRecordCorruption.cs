namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>What a TFRecord source does with a damaged record.</summary>
public enum TFRecordCorruption
{
    /// <summary>Throws <see cref="TFRecordCorruptedException"/>, naming the file or object and the record's byte offset (the default).</summary>
    Throw = 0,

    /// <summary>
    /// Skips what cannot be trusted and goes on: a record whose data CRC does not match is skipped; a length whose CRC
    /// does not match, or a record cut short by the end of the file, ends that file (its length cannot be trusted to find
    /// the next record), and the source goes on with the next file.
    /// </summary>
    Skip = 1,
}
