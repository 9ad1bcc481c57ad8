using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace InputPipeline.Checkpointing.Testing;

/// <summary>
/// An <see cref="IInputStateStore"/> that wraps another one, numbers and logs every call, and injects the
/// <see cref="Fault"/>s a test arms: fail a call, lose its response, hang it, cut a write short, or "crash" so that
/// the call and all later ones fail.
/// </summary>
/// <remarks>
/// <para>
/// Each <see cref="WriteAsync"/>, <see cref="ReadAsync"/>, <see cref="ListAsync"/> (when its enumeration starts) and
/// <see cref="DeleteAsync"/> is one call, numbered from 1 in the order calls start; <see cref="Calls"/> logs them
/// with the fault each one got. Null arguments are rejected before a call is counted; every other argument check
/// is the inner store's, after the fault (a failed call never reaches it). Injected failures are
/// <see cref="CheckpointStoreException"/>s whose provider name is the inner store's and whose message contains
/// <c>Injected fault</c>.
/// </para>
/// <para>Thread-safe. Faults are matched in the order they were armed; one call gets at most one fault.</para>
/// </remarks>
public sealed class FaultInjectingInputStateStore : IInputStateStore
{
    private readonly Lock _gate = new();
    private readonly List<Fault> _armed = [];
    private readonly List<StoreCall> _calls = [];
    private readonly Channel<StoreCall> _hangsStarted = Channel.CreateUnbounded<StoreCall>();
    private TaskCompletionSource _release = NewRelease();
    private int _callCount;
    private StoreCall? _crashedAt;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The store that performs the calls.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is null.</exception>
    public FaultInjectingInputStateStore(IInputStateStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <summary>Gets the wrapped store.</summary>
    public IInputStateStore Inner { get; }

    /// <inheritdoc/>
    /// <value>The inner store's provider name.</value>
    public string ProviderName => Inner.ProviderName;

    /// <summary>Gets the number of calls made so far; the next call gets number <c>CallCount + 1</c>.</summary>
    public int CallCount
    {
        get
        {
            lock (_gate)
            {
                return _callCount;
            }
        }
    }

    /// <summary>Gets a snapshot of the calls made so far, in number order, each with the fault it got.</summary>
    public IReadOnlyList<StoreCall> Calls
    {
        get
        {
            lock (_gate)
            {
                return _calls.ToArray();
            }
        }
    }

    /// <summary>Gets a snapshot of the faults armed and not yet fired (a <see cref="Fault.Repeats"/> fault stays here after firing).</summary>
    public IReadOnlyList<Fault> ArmedFaults
    {
        get
        {
            lock (_gate)
            {
                return _armed.ToArray();
            }
        }
    }

    /// <summary>Gets whether a <see cref="FaultKind.Crash"/> fault has fired (and <see cref="Disarm"/> was not called since).</summary>
    public bool IsCrashed
    {
        get
        {
            lock (_gate)
            {
                return _crashedAt is not null;
            }
        }
    }

    /// <summary>Arms <paramref name="fault"/>: it fires at the first later call it matches.</summary>
    /// <param name="fault">The fault.</param>
    /// <exception cref="ArgumentNullException"><paramref name="fault"/> is null.</exception>
    public void Arm(Fault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate)
        {
            _armed.Add(fault);
        }
    }

    /// <summary>
    /// Removes every armed fault, ends a crash (as a restarted process would find the store) and releases hanging
    /// calls. The call count and log are kept.
    /// </summary>
    public void Disarm()
    {
        lock (_gate)
        {
            _armed.Clear();
            _crashedAt = null;
        }

        ReleaseHangs();
    }

    /// <summary>Lets every call hanging now go on normally (calls that start hanging later wait for the next release).</summary>
    public void ReleaseHangs()
    {
        TaskCompletionSource released;
        lock (_gate)
        {
            released = _release;
            _release = NewRelease();
        }

        released.TrySetResult();
    }

    /// <summary>Waits until a call starts hanging on a <see cref="FaultKind.Hang"/> fault (one not reported by an earlier wait).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The hanging call.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<StoreCall> WaitForHangAsync(CancellationToken cancellationToken = default)
    {
        return await _hangsStarted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(content);
        (StoreCall call, Fault? fault) = Begin(StoreOperation.Write, key, condition);
        await BeforeAsync(call, cancellationToken).ConfigureAwait(false);
        if (fault?.Kind == FaultKind.CutShort)
        {
            var cut = new CutShortStream(content, fault.CutShortBytes);
            try
            {
                await Inner.WriteAsync(key, cut, condition, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                throw Injected(call, $"the write was cut short after {fault.CutShortBytes} bytes", ex);
            }

            throw Injected(call, $"the write was cut short after {fault.CutShortBytes} bytes, but the inner store completed it without reading its content to the end");
        }

        StoreVersion version = await Inner.WriteAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
        ThrowIfFailAfter(call, fault);
        return version;
    }

    /// <inheritdoc/>
    public async Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        (StoreCall call, Fault? fault) = Begin(StoreOperation.Read, key, null);
        await BeforeAsync(call, cancellationToken).ConfigureAwait(false);
        StoreReadResult? result = await Inner.ReadAsync(key, offset, cancellationToken).ConfigureAwait(false);
        if (fault?.Kind == FaultKind.FailAfter)
        {
            if (result is not null)
            {
                await result.DisposeAsync().ConfigureAwait(false);
            }

            ThrowIfFailAfter(call, fault);
        }

        return result;
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return ListCoreAsync(prefix, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        WriteCondition condition = ifVersion is { Value.Length: > 0 } version ? WriteCondition.IfVersionMatches(version) : WriteCondition.None;
        (StoreCall call, Fault? fault) = Begin(StoreOperation.Delete, key, condition);
        await BeforeAsync(call, cancellationToken).ConfigureAwait(false);
        bool deleted = await Inner.DeleteAsync(key, ifVersion, cancellationToken).ConfigureAwait(false);
        ThrowIfFailAfter(call, fault);
        return deleted;
    }

    private static TaskCompletionSource NewRelease() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        (StoreCall call, Fault? fault) = Begin(StoreOperation.List, prefix, null);
        await BeforeAsync(call, cancellationToken).ConfigureAwait(false);
        if (fault?.Kind == FaultKind.FailAfter)
        {
            await foreach (StoreObjectInfo _ in Inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                // Performed, but the response is lost.
            }

            ThrowIfFailAfter(call, fault);
        }

        await foreach (StoreObjectInfo info in Inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            yield return info;
        }
    }

    /// <summary>Numbers and logs a call and picks the fault it gets.</summary>
    private (StoreCall Call, Fault? Fault) Begin(StoreOperation operation, string key, WriteCondition? condition)
    {
        lock (_gate)
        {
            var call = new StoreCall(++_callCount, operation, key, condition);
            Fault? fault = null;
            if (_crashedAt is not null)
            {
                call = call with { Fault = FaultKind.Crash };
            }
            else
            {
                int index = _armed.FindIndex(armed => armed.Matches(call));
                if (index >= 0)
                {
                    fault = _armed[index];
                    if (!fault.Repeats)
                    {
                        _armed.RemoveAt(index);
                    }

                    call = call with { Fault = fault.Kind };
                    if (fault.Kind == FaultKind.Crash)
                    {
                        _crashedAt = call;
                    }
                }
            }

            _calls.Add(call);
            return (call, fault);
        }
    }

    /// <summary>Applies the part of a fault that comes before the inner call.</summary>
    private async Task BeforeAsync(StoreCall call, CancellationToken cancellationToken)
    {
        switch (call.Fault)
        {
            case FaultKind.Crash:
                StoreCall crashedAt;
                lock (_gate)
                {
                    crashedAt = _crashedAt ?? call;
                }

                throw Injected(call, string.Create(CultureInfo.InvariantCulture, $"the process crashed at call {crashedAt.Number} ({crashedAt.Operation} \"{crashedAt.Key}\")"));
            case FaultKind.Fail:
            case FaultKind.CutShort when call.Operation != StoreOperation.Write:
                throw Injected(call, "the call failed");
            case FaultKind.Hang:
                Task released;
                lock (_gate)
                {
                    released = _release.Task;
                }

                _hangsStarted.Writer.TryWrite(call);
                await released.WaitAsync(cancellationToken).ConfigureAwait(false);
                break;
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private void ThrowIfFailAfter(StoreCall call, Fault? fault)
    {
        if (fault?.Kind == FaultKind.FailAfter)
        {
            throw Injected(call, "the call was performed but its response was lost");
        }
    }

    private CheckpointStoreException Injected(StoreCall call, string what, Exception? inner = null) =>
        new(
            ProviderName,
            call.Operation == StoreOperation.List ? null : call.Key,
            string.Create(CultureInfo.InvariantCulture, $"Injected fault at call {call.Number} ({call.Operation}): {what}."),
            inner);

    /// <summary>A read-only, non-seekable view of a content stream that yields at most a given number of bytes, then throws.</summary>
    private sealed class CutShortStream(Stream inner, long limit) : Stream
    {
        private long _passed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _passed;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int allowed = Allowed(buffer.Length);
            return Count(inner.Read(buffer[..allowed]), buffer.Length);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int allowed = Allowed(buffer.Length);
            return Count(await inner.ReadAsync(buffer[..allowed], cancellationToken).ConfigureAwait(false), buffer.Length);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Allowed(int requested)
        {
            long left = limit - _passed;
            if (requested > 0 && left <= 0)
            {
                throw CutShort();
            }

            return (int)Math.Min(requested, left);
        }

        // The stream never reports its end: a short content fails on its last read as well.
        private int Count(int read, int requested)
        {
            if (read == 0 && requested > 0)
            {
                throw CutShort();
            }

            _passed += read;
            return read;
        }

        private IOException CutShort() =>
            new(string.Create(CultureInfo.InvariantCulture, $"Injected fault: the content was cut short after {_passed} bytes (limit {limit})."));
    }
}
