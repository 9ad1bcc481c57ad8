namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// Reads a content stream of unknown length (possibly non-seekable) in whole buffers, and tells whether it has ended
/// by reading one byte ahead, which the next fill returns first.
/// </summary>
internal sealed class ContentReader(Stream content)
{
    private readonly byte[] _peeked = new byte[1];
    private bool _hasPeeked;
    private bool _ended;

    /// <summary>Fills <paramref name="destination"/> until it is full or the content ends.</summary>
    /// <returns>The number of bytes read.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked after every read, as some streams ignore it).</exception>
    public async ValueTask<int> FillAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        int filled = 0;
        if (_hasPeeked && !destination.IsEmpty)
        {
            destination.Span[0] = _peeked[0];
            _hasPeeked = false;
            filled = 1;
        }

        while (filled < destination.Length && !_ended)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int read = await content.ReadAsync(destination[filled..], cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (read == 0)
            {
                _ended = true;
            }

            filled += read;
        }

        return filled;
    }

    /// <summary>Returns whether the content has no more bytes, reading one byte ahead if needed.</summary>
    public async ValueTask<bool> IsAtEndAsync(CancellationToken cancellationToken)
    {
        if (_hasPeeked)
        {
            return false;
        }

        while (!_ended)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int read = await content.ReadAsync(_peeked, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (read == 0)
            {
                _ended = true;
            }
            else
            {
                _hasPeeked = true;
                return false;
            }
        }

        return true;
    }
}
