namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>
/// A store that runs <see cref="BeforeRead"/> before every read of an object (the open of <c>ReadAsync</c>, and every
/// read of its content stream), with the read's cancellation token: a test makes a read slow, or blocks it until released.
/// </summary>
internal sealed class GatedStore(IInputStateStore inner) : IInputStateStore
{
    public Func<string, CancellationToken, Task>? BeforeRead { get; set; }

    public string ProviderName => inner.ProviderName;

    public Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(key, content, condition, cancellationToken);

    public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        if (BeforeRead is { } before)
        {
            await before(key, cancellationToken);
        }

        StoreReadResult? result = await inner.ReadAsync(key, offset, cancellationToken);
        return result is null ? null : new StoreReadResult(new GatedStream(result.Content, key, this), result.Info, result.Offset);
    }

    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default) =>
        inner.DeleteAsync(key, ifVersion, cancellationToken);

    private sealed class GatedStream(Stream content, string key, GatedStore owner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (owner.BeforeRead is { } before)
            {
                await before(key, cancellationToken);
            }

            return await content.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                content.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
