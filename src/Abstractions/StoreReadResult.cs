namespace InputPipeline.Checkpointing;

/// <summary>The result of <see cref="IInputStateStore.ReadAsync"/>: a content stream and the object's metadata.</summary>
/// <remarks>Dispose the result to release the underlying file handle or network response.</remarks>
public sealed class StoreReadResult : IDisposable, IAsyncDisposable
{
    /// <summary>Creates a read result.</summary>
    /// <param name="content">The content, positioned at the requested offset.</param>
    /// <param name="info">The whole object's metadata (its <see cref="StoreObjectInfo.Length"/> is the full length, not the remaining one).</param>
    /// <param name="offset">The offset the content starts at.</param>
    /// <exception cref="ArgumentNullException"><paramref name="content"/> or <paramref name="info"/> is null.</exception>
    public StoreReadResult(Stream content, StoreObjectInfo info, long offset = 0)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        Content = content;
        Info = info;
        Offset = offset;
    }

    /// <summary>Gets the content, from <see cref="Offset"/> to the end of the object.</summary>
    public Stream Content { get; }

    /// <summary>Gets the object's metadata.</summary>
    public StoreObjectInfo Info { get; }

    /// <summary>Gets the offset the content starts at.</summary>
    public long Offset { get; }

    /// <summary>Gets the number of bytes <see cref="Content"/> will yield.</summary>
    public long RemainingLength => Math.Max(0, Info.Length - Offset);

    /// <inheritdoc/>
    public void Dispose() => Content.Dispose();

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Content.DisposeAsync();
}
