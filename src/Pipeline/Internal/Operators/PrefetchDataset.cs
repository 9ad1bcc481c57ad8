using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

internal sealed class PrefetchDataset<T>(Dataset<T> input, int bufferSize, IElementCodec<T> codec) : Dataset<T>(input.Codecs)
{
    internal override IElementCodec<T>? DerivedCodec => input.DerivedCodec;

    internal override StructureNode Describe() => StructureNode.Create(
        "prefetch",
        [StructureParameter.Of("buffer", bufferSize), StructureParameter.Of("codec", codec.Name)],
        input.Describe());

    internal override Node<T> CreateNode(IterationContext context) => new PrefetchNode(input.CreateNode(context), bufferSize, codec);

    /// <summary>
    /// A background producer fills a bounded buffer from the input. The producer holds <see cref="_step"/> while it pulls
    /// one element and enqueues it, so <see cref="Capture"/>, which takes the same gate, sees the input's state and the
    /// buffer at the same element boundary. The producer starts at the first <see cref="MoveNextAsync"/>, after any restore.
    /// </summary>
    private sealed class PrefetchNode(Node<T> inner, int bufferSize, IElementCodec<T> codec) : Node<T>
    {
        private readonly Lock _gate = new();
        private readonly Queue<T> _buffer = new();
        private readonly SemaphoreSlim _step = new(1, 1);
        private readonly SemaphoreSlim _space = new(0, int.MaxValue);
        private readonly SemaphoreSlim _available = new(0, 1);
        private readonly CancellationTokenSource _stop = new();
        private Task? _producer;
        private bool _inputEnded;
        private ExceptionDispatchInfo? _failure;
        private bool _disposed;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_producer is null)
            {
                int queued;
                lock (_gate)
                {
                    queued = _buffer.Count;
                }

                if (bufferSize > queued)
                {
                    _space.Release(bufferSize - queued);
                }

                _producer = Task.Run(ProduceAsync, CancellationToken.None);
            }

            while (true)
            {
                lock (_gate)
                {
                    if (_buffer.Count > 0)
                    {
                        Current = _buffer.Dequeue();
                        _space.Release();
                        return true;
                    }

                    if (_failure is not null)
                    {
                        _failure.Throw();
                    }

                    if (_inputEnded)
                    {
                        return false;
                    }
                }

                await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public override StateWrite Capture()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);

            // Pause the producer between two elements: it holds the gate while it pulls and enqueues one.
            _step.Wait();
            try
            {
                T[] buffered;
                lock (_gate)
                {
                    buffered = [.. _buffer];
                }

                StateWrite innerState = inner.Capture();
                return async (writer, cancellationToken) =>
                {
                    writer.WriteInt32(buffered.Length);
                    foreach (T element in buffered)
                    {
                        writer.WriteElement(codec, element);
                        await writer.MaybeFlushAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await innerState(writer, cancellationToken).ConfigureAwait(false);
                };
            }
            finally
            {
                _step.Release();
            }
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            int count = await reader.ReadInt32Async(0, bufferSize, "the prefetch buffer's size", cancellationToken).ConfigureAwait(false);
            var elements = new List<T>(Math.Min(count, 1024));
            for (int i = 0; i < count; i++)
            {
                elements.Add(await reader.ReadElementAsync(codec, cancellationToken).ConfigureAwait(false));
            }

            lock (_gate)
            {
                _buffer.Clear();
                foreach (T element in elements)
                {
                    _buffer.Enqueue(element);
                }
            }

            await inner.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask ReleaseAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await _stop.CancelAsync().ConfigureAwait(false);
            if (_producer is not null)
            {
                try
                {
                    await _producer.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Expected: the producer was stopped.
                }
            }

            await inner.DisposeAsync().ConfigureAwait(false);
            _stop.Dispose();
            _step.Dispose();
            _space.Dispose();
            _available.Dispose();
        }

        private async Task ProduceAsync()
        {
            CancellationToken stop = _stop.Token;
            try
            {
                while (true)
                {
                    await _space.WaitAsync(stop).ConfigureAwait(false);
                    await _step.WaitAsync(stop).ConfigureAwait(false);
                    try
                    {
                        bool more = await inner.MoveNextAsync(stop).ConfigureAwait(false);
                        lock (_gate)
                        {
                            if (more)
                            {
                                _buffer.Enqueue(inner.Current);
                            }
                            else
                            {
                                _inputEnded = true;
                            }

                            Signal();
                        }

                        if (!more)
                        {
                            return;
                        }
                    }
                    finally
                    {
                        _step.Release();
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Disposed.
            }
            catch (Exception ex)
            {
                lock (_gate)
                {
                    _failure = ExceptionDispatchInfo.Capture(ex);
                    Signal();
                }
            }
        }

        /// <summary>Wakes the consumer; called under <see cref="_gate"/>, so the count never exceeds one.</summary>
        private void Signal()
        {
            if (_available.CurrentCount == 0)
            {
                _available.Release();
            }
        }
    }
}
