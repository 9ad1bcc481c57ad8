using InputPipeline.Checkpointing.Pipeline.Internal;

namespace InputPipeline.Checkpointing.Pipeline;

/// <summary>
/// An immutable description of an input pipeline that yields elements of type <typeparamref name="T"/>: a source and the
/// operators applied to it. It holds no position; <see cref="CreateIterator(string)"/> starts an iterator whose state can be
/// captured and restored through <see cref="ICheckpointable"/>. Start from the factories of <see cref="Dataset"/>.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>
/// Every operator returns a new dataset and leaves this one unchanged, so one dataset can be iterated many times and
/// shared between threads. Functions given to operators (<see cref="Map{TOut}(Func{T, TOut}, string?)"/>,
/// <see cref="Filter(Func{T, bool}, string?)"/>, <see cref="Interleave{TOut}(Func{T, Dataset{TOut}}, int, int, string?)"/>)
/// must be deterministic and free of side effects: a restored pipeline calls them again and must get the same results.
/// With a parallelism above 1 they also run on several threads at once, so they must be thread-safe.
/// </para>
/// <para>
/// Elements that an operator keeps in its state (a shuffle or prefetch buffer, a batch in progress, the elements an
/// interleave is expanding) are serialised when a snapshot is written, on another thread, after the pipeline has moved on:
/// they must not be changed after they are produced. Treat elements as immutable.
/// </para>
/// </remarks>
public abstract class Dataset<T>
{
    private protected Dataset(ElementCodecRegistry codecs)
    {
        Codecs = codecs;
    }

    /// <summary>Gets the codecs the operators added to this dataset use.</summary>
    public ElementCodecRegistry Codecs { get; }

    /// <summary>Gets a codec derived from the components' codecs (batches, zipped pairs), when there is one.</summary>
    internal virtual IElementCodec<T>? DerivedCodec => null;

    /// <summary>
    /// Starts an iterator over the pipeline. It does no work until its first <see cref="ICheckpointableIterator{T}.MoveNextAsync"/>,
    /// so a checkpoint can be restored into it first (<see cref="ICheckpointable.RestoreStateAsync"/>).
    /// </summary>
    /// <param name="name">The iterator's name in error messages; default <see cref="Dataset.DefaultIteratorName"/>. Registering it with a training session under the same name reads well.</param>
    /// <returns>The iterator. Dispose it to close files and stop background producers.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <remarks>
    /// The iterator is for one consumer: <c>MoveNextAsync</c>, <c>CaptureState</c> and <c>RestoreStateAsync</c> must not be
    /// called concurrently (the hook calls them from the training loop, at step boundaries). Its snapshots may be written
    /// on any thread.
    /// </remarks>
    public ICheckpointableIterator<T> CreateIterator(string name = Dataset.DefaultIteratorName)
    {
        ArgumentNullException.ThrowIfNull(name);
        return new PipelineIterator<T>(this, name);
    }

    /// <summary>Returns the structure description recorded in this pipeline's saved states, such as <c>range(start=0,end=10,step=1) | shuffle(buffer=4,seed=7,reshuffle=true,codec=int64)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => Describe().ToString();

    /// <summary>Applies <paramref name="selector"/> to every element.</summary>
    /// <typeparam name="TOut">The result type.</typeparam>
    /// <param name="selector">A deterministic function of the element.</param>
    /// <param name="name">An optional name recorded in the structure description (<c>map(name=decode)</c>), so restoring into a pipeline with a differently named map is a mismatch; <see langword="null"/> (the default) records none.</param>
    /// <returns>The mapped dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is null.</exception>
    /// <remarks>
    /// The function runs on the consumer's thread. If it throws, the next <c>MoveNextAsync</c> throws that exception and the
    /// element counts as consumed; a caller that catches it can keep iterating. A state saved then holds the inputs the
    /// operator had read but not yet mapped, through the codec of <typeparamref name="T"/> (so there must be one, or that
    /// capture throws <see cref="ElementCodecNotFoundException"/>).
    /// </remarks>
    public Dataset<TOut> Map<TOut>(Func<T, TOut> selector, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        return new MapDataset<T, TOut>(this, selector, name, 1);
    }

    /// <summary>
    /// Applies <paramref name="selector"/> to every element, on up to <paramref name="parallelism"/> elements at once, and
    /// yields the results in the input's order: the same sequence as <see cref="Map{TOut}(Func{T, TOut}, string?)"/>, so
    /// the batches of a pipeline do not depend on the parallelism. Use it for a CPU-bound step such as decoding.
    /// </summary>
    /// <typeparam name="TOut">The result type.</typeparam>
    /// <param name="selector">A deterministic, thread-safe function of the element.</param>
    /// <param name="parallelism">
    /// How many elements the function runs on at once, at least 1; typically <see cref="Environment.ProcessorCount"/>.
    /// 1 runs it on the consumer's thread, as the map without a parallelism does. Larger values run it on the thread pool,
    /// reading ahead of the consumer: at most <paramref name="parallelism"/> + max(<paramref name="parallelism"/>, 8) inputs are in flight.
    /// </param>
    /// <param name="name">An optional name recorded in the structure description; <see langword="null"/> (the default) records none.</param>
    /// <returns>The mapped dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parallelism"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException"><paramref name="parallelism"/> is more than 1 and no codec is known for <typeparamref name="T"/>.</exception>
    /// <remarks>
    /// <para>
    /// The saved state holds the inputs read but not yet yielded (in flight), through the codec of <typeparamref name="T"/>;
    /// a restored pipeline runs the function on them again. The parallelism is not part of the saved structure: a state
    /// saved at one parallelism restores at any other, and into the map without a parallelism.
    /// </para>
    /// <para>
    /// A failure of the function is thrown by the <c>MoveNextAsync</c> that reaches its element, in order, as in the
    /// sequential map; disposing the iterator waits for the calls under way to return.
    /// </para>
    /// </remarks>
    public Dataset<TOut> Map<TOut>(Func<T, TOut> selector, int parallelism, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        return new MapDataset<T, TOut>(this, selector, name, parallelism);
    }

    /// <summary>Keeps the elements for which <paramref name="predicate"/> is true.</summary>
    /// <param name="predicate">A deterministic test of the element.</param>
    /// <param name="name">An optional name recorded in the structure description; <see langword="null"/> (the default) records none.</param>
    /// <returns>The filtered dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    public Dataset<T> Filter(Func<T, bool> predicate, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new FilterDataset<T>(this, predicate, name, 1);
    }

    /// <summary>
    /// Keeps the elements for which <paramref name="predicate"/> is true, testing up to <paramref name="parallelism"/>
    /// elements at once, in the input's order: the same sequence as <see cref="Filter(Func{T, bool}, string?)"/>.
    /// </summary>
    /// <param name="predicate">A deterministic, thread-safe test of the element.</param>
    /// <param name="parallelism">How many elements are tested at once, at least 1; 1 tests on the consumer's thread. At most <paramref name="parallelism"/> + max(<paramref name="parallelism"/>, 8) inputs are in flight.</param>
    /// <param name="name">An optional name recorded in the structure description; <see langword="null"/> (the default) records none.</param>
    /// <returns>The filtered dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parallelism"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException"><paramref name="parallelism"/> is more than 1 and no codec is known for <typeparamref name="T"/>.</exception>
    /// <remarks>The saved state holds the inputs in flight, as the parallel <see cref="Map{TOut}(Func{T, TOut}, int, string?)"/>'s does; the parallelism is not part of it.</remarks>
    public Dataset<T> Filter(Func<T, bool> predicate, int parallelism, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        return new FilterDataset<T>(this, predicate, name, parallelism);
    }

    /// <summary>
    /// Groups consecutive elements into arrays of <paramref name="size"/>. The last batch is smaller when the input does not
    /// divide evenly, unless <paramref name="dropRemainder"/> drops it. A batch whose assembly was interrupted (its
    /// <c>MoveNextAsync</c> cancelled) keeps the elements it already has, in its saved state too, so this operator needs
    /// an element codec.
    /// </summary>
    /// <param name="size">The number of elements per batch, at least 1.</param>
    /// <param name="dropRemainder">Whether to drop a last, smaller batch; default <see langword="false"/>.</param>
    /// <returns>The batched dataset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException">No codec is known for <typeparamref name="T"/>.</exception>
    public Dataset<T[]> Batch(int size, bool dropRemainder = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        return new BatchDataset<T>(this, size, dropRemainder, ResolveCodec("batch"));
    }

    /// <summary>
    /// Shuffles with a buffer of <paramref name="bufferSize"/> elements, as tf.data does: the buffer is filled from the
    /// input, and each output is drawn uniformly from it and replaced by the next input element. The buffer's contents and
    /// the exact state of its random generator (xoshiro256**) are saved.
    /// </summary>
    /// <param name="bufferSize">The buffer size, at least 1. A buffer at least as large as the input shuffles it uniformly.</param>
    /// <param name="seed">The seed; a fixed seed gives a fixed order.</param>
    /// <param name="reshuffleEachIteration">
    /// Whether each epoch of an enclosing <see cref="Repeat"/> (or each element of an enclosing interleave) gets its own
    /// order, derived deterministically from <paramref name="seed"/> and the epoch; default <see langword="true"/>, as in tf.data.
    /// With <see langword="false"/> every epoch repeats the same order.
    /// </param>
    /// <returns>The shuffled dataset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bufferSize"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException">No codec is known for <typeparamref name="T"/>.</exception>
    public Dataset<T> Shuffle(int bufferSize, ulong seed, bool reshuffleEachIteration = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        return new ShuffleDataset<T>(this, bufferSize, seed, reshuffleEachIteration, ResolveCodec("shuffle"));
    }

    /// <summary>
    /// Repeats the dataset <paramref name="count"/> times (epochs), or forever. Each epoch runs the input anew; a shuffle
    /// inside gets a deterministic order per epoch. An epoch that yields no element ends the repetition, so repeating an
    /// empty dataset forever ends at once.
    /// </summary>
    /// <param name="count">The number of epochs, 0 or more; <see langword="null"/> (the default) repeats forever.</param>
    /// <returns>The repeated dataset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public Dataset<T> Repeat(int? count = null)
    {
        if (count is { } c)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(c, nameof(count));
        }

        return new RepeatDataset<T>(this, count);
    }

    /// <summary>Yields at most the first <paramref name="count"/> elements.</summary>
    /// <param name="count">The number of elements, 0 or more.</param>
    /// <returns>The truncated dataset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public Dataset<T> Take(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new TakeDataset<T>(this, count);
    }

    /// <summary>Skips the first <paramref name="count"/> elements.</summary>
    /// <param name="count">The number of elements, 0 or more.</param>
    /// <returns>The dataset without its first elements.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public Dataset<T> Skip(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new SkipDataset<T>(this, count);
    }

    /// <summary>
    /// Keeps the share of worker <paramref name="index"/> of <paramref name="count"/>: the elements at positions
    /// <c>index</c>, <c>index + count</c>, <c>index + 2·count</c>, … of the input. The worker count is part of the saved
    /// structure; to resume with another number of workers use <see cref="Dataset.Indexed{T}"/>.
    /// </summary>
    /// <param name="count">The number of workers, at least 1.</param>
    /// <param name="index">This worker's index, in [0, <paramref name="count"/>).</param>
    /// <returns>The shard.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is less than 1, or <paramref name="index"/> is outside [0, count).</exception>
    public Dataset<T> Shard(int count, int index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return new ShardDataset<T>(this, count, index);
    }

    /// <summary>
    /// Maps every element to a dataset with <paramref name="open"/> (typically a file name to the file's records) and
    /// interleaves their elements with tf.data's semantics: <paramref name="cycleLength"/> datasets are open at once, and
    /// <paramref name="blockLength"/> consecutive elements are taken from each in turn; an exhausted one is replaced by the
    /// next input element. The state holds each open dataset's input element (so this operator needs a codec for
    /// <typeparamref name="T"/>), its structure and its state; a restored pipeline reopens them with <paramref name="open"/>.
    /// </summary>
    /// <typeparam name="TOut">The element type of the opened datasets.</typeparam>
    /// <param name="open">A deterministic function from an element to a dataset. Codec problems of the datasets it builds surface when they are opened.</param>
    /// <param name="cycleLength">The number of datasets open at once, at least 1.</param>
    /// <param name="blockLength">The number of consecutive elements taken from one dataset, at least 1; default <see cref="Dataset.DefaultBlockLength"/> (1).</param>
    /// <param name="name">An optional name recorded in the structure description; <see langword="null"/> (the default) records none.</param>
    /// <returns>The interleaved dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="open"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cycleLength"/> or <paramref name="blockLength"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException">No codec is known for <typeparamref name="T"/>.</exception>
    public Dataset<TOut> Interleave<TOut>(Func<T, Dataset<TOut>> open, int cycleLength, int blockLength = Dataset.DefaultBlockLength, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentOutOfRangeException.ThrowIfLessThan(cycleLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockLength, 1);
        return new InterleaveDataset<T, TOut>(this, open, cycleLength, blockLength, 1, name, ResolveCodec("interleave"));
    }

    /// <summary>
    /// Interleaves like <see cref="Interleave{TOut}(Func{T, Dataset{TOut}}, int, int, string?)"/>, in exactly the same
    /// order, but reads the open datasets concurrently: each open dataset is read ahead by a producer of its own into a
    /// buffer of 2 × <paramref name="blockLength"/> elements, with at most <paramref name="parallelism"/> reads under way at
    /// once, and the datasets of the cycle are opened as soon as their slot is free. It is what reads several shards
    /// from object storage at once (<c>Dataset.FromList(keys).Interleave(k =&gt; Dataset.StoreObjects(store, k), 8, 1, 8)</c>).
    /// </summary>
    /// <typeparam name="TOut">The element type of the opened datasets.</typeparam>
    /// <param name="open">A deterministic function from an element to a dataset.</param>
    /// <param name="cycleLength">The number of datasets open at once, at least 1.</param>
    /// <param name="blockLength">The number of consecutive elements taken from one dataset, at least 1.</param>
    /// <param name="parallelism">How many open datasets are read at once, at least 1; more than <paramref name="cycleLength"/> acts as <paramref name="cycleLength"/>. 1 reads on the consumer's thread, as the interleave without a parallelism does.</param>
    /// <param name="name">An optional name recorded in the structure description; <see langword="null"/> (the default) records none.</param>
    /// <returns>The interleaved dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="open"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cycleLength"/>, <paramref name="blockLength"/> or <paramref name="parallelism"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException">No codec is known for <typeparamref name="T"/>, or <paramref name="parallelism"/> is more than 1 and none is known for <typeparamref name="TOut"/>.</exception>
    /// <remarks>
    /// The saved state holds, for every open dataset, its input element, its state and the elements read ahead from it
    /// (through the codec of <typeparamref name="TOut"/>). Capturing it cancels the reads under way (a cancelled read is
    /// taken up again after the capture), so it does not wait for a slow network read. The parallelism is not part of
    /// the saved structure: a state restores at any parallelism, and into the interleave without a parallelism.
    /// </remarks>
    public Dataset<TOut> Interleave<TOut>(Func<T, Dataset<TOut>> open, int cycleLength, int blockLength, int parallelism, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentOutOfRangeException.ThrowIfLessThan(cycleLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        return new InterleaveDataset<T, TOut>(this, open, cycleLength, blockLength, Math.Min(parallelism, cycleLength), name, ResolveCodec("interleave"));
    }

    /// <summary>
    /// Pairs the elements of this dataset and <paramref name="other"/>, ending with the shorter one. Cancelling a
    /// <c>MoveNextAsync</c> takes effect before the pair is started, never between its two halves.
    /// </summary>
    /// <typeparam name="TOther">The other element type.</typeparam>
    /// <param name="other">The other dataset.</param>
    /// <returns>The zipped dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    public Dataset<(T, TOther)> Zip<TOther>(Dataset<TOther> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new ZipDataset<T, TOther>(this, other);
    }

    /// <summary>Yields the elements of this dataset, then those of <paramref name="other"/>.</summary>
    /// <param name="other">The dataset to append.</param>
    /// <returns>The concatenated dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    public Dataset<T> Concatenate(Dataset<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new ConcatenateDataset<T>(this, other);
    }

    /// <summary>
    /// Produces elements ahead of the consumer on a background task, into a buffer of <paramref name="bufferSize"/>
    /// elements. Capturing the state pauses the producer at an element boundary and saves the input's state together with
    /// the buffered elements, so no element is lost or doubled; disposing the iterator stops the producer.
    /// </summary>
    /// <param name="bufferSize">The number of elements produced ahead, at least 1.</param>
    /// <returns>The prefetching dataset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bufferSize"/> is less than 1.</exception>
    /// <exception cref="ElementCodecNotFoundException">No codec is known for <typeparamref name="T"/>.</exception>
    public Dataset<T> Prefetch(int bufferSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        return new PrefetchDataset<T>(this, bufferSize, ResolveCodec("prefetch"));
    }

    /// <summary>Returns this dataset with <paramref name="codecs"/> for the operators added after it (the pipeline's structure is unchanged).</summary>
    /// <param name="codecs">The codecs.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="codecs"/> is null.</exception>
    public Dataset<T> WithCodecs(ElementCodecRegistry codecs)
    {
        ArgumentNullException.ThrowIfNull(codecs);
        return new CodecScopeDataset<T>(this, codecs, null);
    }

    /// <summary>Returns this dataset with <paramref name="codec"/> for its elements, used by the buffering operators added next (the pipeline's structure is unchanged).</summary>
    /// <param name="codec">The codec of <typeparamref name="T"/>.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="codec"/> is null.</exception>
    public Dataset<T> WithElementCodec(IElementCodec<T> codec)
    {
        ArgumentNullException.ThrowIfNull(codec);
        return new CodecScopeDataset<T>(this, Codecs, codec);
    }

    /// <summary>Describes the pipeline's structure (operator kinds, parameters, sources' identities).</summary>
    internal abstract StructureNode Describe();

    /// <summary>Creates the running node of this dataset.</summary>
    internal abstract Node<T> CreateNode(IterationContext context);

    /// <summary>Finds the codec of <typeparamref name="T"/>: the registry's, else one derived from the components'.</summary>
    internal virtual IElementCodec<T> ResolveCodec(string operatorName) =>
        Codecs.TryGetCodec(out IElementCodec<T>? codec) ? codec : DerivedCodec ?? throw new ElementCodecNotFoundException(typeof(T), operatorName);
}
