using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using InputPipeline.Checkpointing.TorchSharp.Internal;
using Microsoft.IO;
using TorchSharp;
using TorchSharp.Modules;
using LRScheduler = TorchSharp.torch.optim.lr_scheduler.LRScheduler;
using Module = TorchSharp.torch.nn.Module;
using Tensor = TorchSharp.torch.Tensor;

namespace InputPipeline.Checkpointing.TorchSharp;

/// <summary>
/// The state a TorchSharp training job needs to continue bit for bit after a restart: a module's parameters and
/// buffers, its optimizer's state (Adam's step count and moments, for example), the step of an optional learning-rate
/// schedule, and torch's CPU random generator (dropout, random augmentations). It is one <see cref="ICheckpointable"/>,
/// saved as the <em>model</em> chain beside the input pipeline by <see cref="TorchCheckpointing"/>, or registered anywhere
/// a checkpointable goes (an <see cref="Hosting.IEstimatorModel{TBatch}"/>'s state, a <see cref="CheckpointManager"/>).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="CaptureState"/> runs on the training thread at a step boundary and serialises the state synchronously with
/// TorchSharp's own formats (<c>Module.save</c>, <c>save_state_dict</c>, <c>torch.get_rng_state()</c>) into a pooled
/// buffer (one contiguous buffer sized by the previous checkpoint, up to 2047 MiB; pooled 1 MiB blocks beyond), which the
/// checkpoint manager then uploads in the background while training goes on, straight from memory. The buffer returns
/// to its pool when the upload is done, so each checkpoint reuses the memory of the previous one: the state keeps about
/// one serialised copy of itself allocated between checkpoints.
/// </para>
/// <para>
/// <see cref="RestoreStateAsync"/> restores into freshly built objects of the same shape: it reads the whole saved state
/// first (so the checkpoint's checksum is verified before anything changes), then loads the module, rebuilds the
/// scheduler at its saved step <em>before</em> loading the optimizer (a scheduler's constructor sets the learning rate,
/// and the optimizer's saved learning rate must win), loads the optimizer, and sets the generator. Leave out any of the
/// four and a resumed run drifts from the uninterrupted one.
/// </para>
/// <para>
/// TorchSharp 0.107's schedulers have no state dictionary, so the schedule is restored from the number of times it was
/// stepped: step it with <see cref="StepScheduler"/>, not with the scheduler's own <c>step()</c>. That restores every
/// schedule that is a function of its step (StepLR, MultiStepLR, ExponentialLR, LambdaLR, CosineAnnealingLR, OneCycleLR
/// and the like), not one that depends on observed metrics (ReduceLROnPlateau). Only the CPU generator is saved; CUDA
/// generators are not. Results are reproducible on CPU for a fixed <c>torch.set_num_threads</c>.
/// </para>
/// <para>The object is not thread-safe: use it from the training loop.</para>
/// </remarks>
public sealed class TorchTrainingState : ICheckpointable
{
    /// <summary>The name used in errors about a saved state.</summary>
    private const string StateName = "TorchSharp training state";

    /// <summary>The block size of the pooled buffers, and the granularity of their contiguous sizes: 1 MiB.</summary>
    private const int BlockSize = 1 << 20;

    /// <summary>The largest state captured into one contiguous buffer (2047 MiB); a larger one stays in blocks.</summary>
    private const int MaxContiguous = 2047 * BlockSize;

    private readonly Func<OptimizerHelper, int, LRScheduler>? _createScheduler;

    // Pools without a cap on free bytes, so a checkpoint reuses the buffer of the previous one (held between checkpoints).
    private readonly RecyclableMemoryStreamManager _buffers = new(new RecyclableMemoryStreamManager.Options
    {
        BlockSize = BlockSize,
        LargeBufferMultiple = BlockSize,
        MaximumBufferSize = MaxContiguous,
    });

    private long _lastLength;

    /// <summary>Creates the training state of <paramref name="module"/> and <paramref name="optimizer"/>.</summary>
    /// <param name="module">The module, built the same way at every start (its parameters are replaced on restore).</param>
    /// <param name="optimizer">The optimizer over the module's parameters, built the same way at every start.</param>
    /// <param name="createScheduler">
    /// Creates the learning-rate scheduler over the optimizer, given the <c>last_epoch</c> to pass to the scheduler's
    /// constructor: -1 for a new schedule, or the saved step minus one on restore, for example
    /// <c>(optimizer, lastEpoch) =&gt; StepLR(optimizer, 100, 0.5, last_epoch: lastEpoch)</c>. It is called once now, and
    /// again on every restore. <see langword="null"/> (the default): no schedule.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> or <paramref name="optimizer"/> is null.</exception>
    public TorchTrainingState(Module module, OptimizerHelper optimizer, Func<OptimizerHelper, int, LRScheduler>? createScheduler = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(optimizer);
        Module = module;
        Optimizer = optimizer;
        _createScheduler = createScheduler;
        Scheduler = createScheduler?.Invoke(optimizer, -1);
    }

    /// <summary>Gets the module.</summary>
    public Module Module { get; }

    /// <summary>Gets the optimizer.</summary>
    public OptimizerHelper Optimizer { get; }

    /// <summary>Gets the learning-rate scheduler, or <see langword="null"/> without one. A restore replaces it with a rebuilt one.</summary>
    public LRScheduler? Scheduler { get; private set; }

    /// <summary>Gets how many times <see cref="StepScheduler"/> has stepped the schedule, across restarts. 0 at first.</summary>
    public int SchedulerSteps { get; private set; }

    /// <summary>Steps the learning-rate schedule (its <c>step()</c>) and counts the step, so that a restore can rebuild it.</summary>
    /// <exception cref="InvalidOperationException">The state has no scheduler.</exception>
    public void StepScheduler()
    {
        LRScheduler scheduler = Scheduler ?? throw new InvalidOperationException("This training state has no learning-rate scheduler: pass createScheduler to the constructor.");
        scheduler.step();
        SchedulerSteps++;
    }

    /// <summary>
    /// Serialises the module, the optimizer, the schedule's step and torch's CPU generator into a pooled buffer, now, on
    /// the calling thread; the snapshot then only holds bytes, so training may go on while it is uploaded.
    /// </summary>
    /// <returns>The snapshot; its <see cref="ICheckpointSnapshot.Length"/> is known. Disposing it returns the buffer to the pool.</returns>
    public ICheckpointSnapshot CaptureState()
    {
        // The state's size hardly changes between checkpoints: ask for one contiguous buffer that holds the previous
        // one, so the manager can upload it straight from memory (an IBufferedCheckpointSnapshot) without a copy.
        RecyclableMemoryStream buffer = _lastLength is > 0 and <= MaxContiguous
            ? _buffers.GetStream(StateName, _lastLength, asContiguousBuffer: true)
            : _buffers.GetStream(StateName);
        try
        {
            Span<byte> header = stackalloc byte[StateHeader.Size];
            header.Clear();
            buffer.Write(header);
            long moduleLength;
            long optimizerLength;
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            {
                Module.save(writer);
                writer.Flush();
                moduleLength = buffer.Length - StateHeader.Size;
                Optimizer.save_state_dict(writer);
                writer.Flush();
                optimizerLength = buffer.Length - StateHeader.Size - moduleLength;
            }

            long generatorLength;
            using (Tensor generator = torch.get_rng_state())
            {
                ReadOnlySpan<byte> bytes = generator.bytes;
                buffer.Write(bytes);
                generatorLength = bytes.Length;
            }

            new StateHeader(_createScheduler is null ? -1 : SchedulerSteps, moduleLength, optimizerLength, generatorLength).Write(header);
            buffer.Position = 0;
            buffer.Write(header);
            _lastLength = buffer.Length;
            return buffer.Length <= MaxContiguous ? new BufferedStateSnapshot(buffer) : new StateSnapshot(buffer);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces the module's parameters and buffers, the optimizer's state, the scheduler and torch's CPU generator with
    /// the saved ones. The objects must be built as the job that saved the state built them (same module structure and
    /// parameter shapes, same optimizer type, a scheduler factory exactly when the saved state has a schedule).
    /// </summary>
    /// <param name="state">The saved bytes; read to the end before anything is changed.</param>
    /// <param name="cancellationToken">Cancels reading the state.</param>
    /// <returns>A task that completes when the state is restored.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    /// <exception cref="CheckpointCorruptedException">The bytes are not a training state of this format (wrong magic, lengths that do not add up).</exception>
    /// <exception cref="CheckpointFormatVersionException">The state was written by a newer version of this library.</exception>
    /// <exception cref="CheckpointMismatchException">
    /// The saved state does not fit these objects: another module structure or parameter shape or type, another
    /// optimizer type or parameter count, a schedule saved without a scheduler factory here (or the reverse), or a
    /// generator state of another size. Nothing is changed when the schedule or the generator does not fit; when the
    /// module or the optimizer does not, the objects may be partly restored: restore again, or build new ones.
    /// </exception>
    public async ValueTask RestoreStateAsync(Stream state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        using RecyclableMemoryStream buffer = _buffers.GetStream(StateName);
        await state.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        Apply(buffer);
    }

    private void Apply(RecyclableMemoryStream buffer)
    {
        Span<byte> headerBytes = stackalloc byte[StateHeader.Size];
        buffer.Position = 0;
        int read = buffer.Read(headerBytes);
        StateHeader header = StateHeader.Read(headerBytes[..read], buffer.Length, StateName);
        if (header.SchedulerSteps >= 0 && _createScheduler is null)
        {
            throw new CheckpointMismatchException(StateName, string.Create(CultureInfo.InvariantCulture, $"it holds a learning-rate schedule at step {header.SchedulerSteps}, but this training state has no scheduler factory; pass the same createScheduler as the job that saved it."));
        }

        if (header.SchedulerSteps < 0 && _createScheduler is not null)
        {
            throw new CheckpointMismatchException(StateName, "it was saved without a learning-rate schedule, but this training state has a scheduler factory; build it as the job that saved it did.");
        }

        long generatorSize;
        using (Tensor current = torch.get_rng_state())
        {
            generatorSize = current.bytes.Length;
        }

        // libtorch aborts the whole process on a generator state of the wrong size: check it before handing it over.
        if (header.GeneratorLength != generatorSize)
        {
            throw new CheckpointMismatchException(StateName, string.Create(CultureInfo.InvariantCulture, $"its random generator state holds {header.GeneratorLength} bytes, this LibTorch's CPU generator {generatorSize}."));
        }

        LoadSection(buffer, StateHeader.ModuleOffset, header.ModuleLength, "module", reader => Module.load(reader, strict: true));
        if (_createScheduler is not null)
        {
            // Before the optimizer: the scheduler's constructor sets the learning rate, and the saved one must win.
            Scheduler = _createScheduler(Optimizer, header.SchedulerSteps - 1);
            SchedulerSteps = header.SchedulerSteps;
        }

        LoadSection(buffer, header.OptimizerOffset, header.OptimizerLength, "optimizer", Optimizer.load_state_dict);
        byte[] generator = new byte[header.GeneratorLength];
        buffer.Position = header.GeneratorOffset;
        buffer.ReadExactly(generator);
        using Tensor saved = torch.tensor(generator, torch.ScalarType.Byte);
        torch.set_rng_state(saved);
    }

    private static void LoadSection(RecyclableMemoryStream buffer, long offset, long length, string what, Action<BinaryReader> load)
    {
        using var section = new SectionReadStream(buffer, offset, length);
        using var reader = new BinaryReader(section, Encoding.UTF8, leaveOpen: true);
        try
        {
            load(reader);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidDataException or EndOfStreamException or InvalidOperationException or NotSupportedException or ExternalException or FormatException or OverflowException)
        {
            throw new CheckpointMismatchException(StateName, $"the saved {what} does not fit the {what} being restored ({ex.GetType().Name}: {ex.Message}). Build it as the job that saved the checkpoint did.");
        }

        if (section.Position != length)
        {
            throw new CheckpointMismatchException(StateName, string.Create(CultureInfo.InvariantCulture, $"the saved {what} holds {length} bytes, but restoring it read {section.Position}: it was saved from a {what} of another structure."));
        }
    }

    /// <summary>A state in one contiguous pooled buffer, uploaded straight from memory.</summary>
    private sealed class BufferedStateSnapshot : IBufferedCheckpointSnapshot
    {
        private readonly ReadOnlyMemory<byte> _bytes;
        private RecyclableMemoryStream? _buffer;

        public BufferedStateSnapshot(RecyclableMemoryStream buffer)
        {
            // No copy when the stream already has one contiguous buffer; otherwise (the first capture) it makes one.
            _bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
            _buffer = buffer;
        }

        public long? Length => _bytes.Length;

        public ReadOnlyMemory<byte> Buffer => Volatile.Read(ref _buffer) is not null
            ? _bytes
            : throw new ObjectDisposedException(nameof(ICheckpointSnapshot), "The snapshot was disposed; its buffer went back to the pool.");

        public ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(destination);
            return destination.WriteAsync(Buffer, cancellationToken);
        }

        public void Dispose() => Interlocked.Exchange(ref _buffer, null)?.Dispose();
    }

    /// <summary>A state larger than one contiguous buffer, written block by block.</summary>
    private sealed class StateSnapshot(RecyclableMemoryStream buffer) : ICheckpointSnapshot
    {
        private RecyclableMemoryStream? _buffer = buffer;

        public long? Length { get; } = buffer.Length;

        public async ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(destination);
            RecyclableMemoryStream bytes = _buffer ?? throw new ObjectDisposedException(nameof(ICheckpointSnapshot), "The snapshot was disposed; its buffer went back to the pool.");
            foreach (ReadOnlyMemory<byte> segment in bytes.GetReadOnlySequence())
            {
                await destination.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
            }
        }

        public void Dispose() => Interlocked.Exchange(ref _buffer, null)?.Dispose();
    }
}
