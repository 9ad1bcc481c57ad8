namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// The section of a state that holds elements: an Int32 count, then each element through its codec (framed by its
/// length), streamed in chunks. Buffers, batches in progress and elements in flight are all saved this way.
/// </summary>
internal static class ElementSection
{
    /// <summary>The most elements a section is read with when its owner sets no tighter bound.</summary>
    public const int MaxCount = 1 << 26;

    public static async ValueTask WriteAsync<T>(StateWriter writer, IElementCodec<T> codec, IReadOnlyList<T> elements, CancellationToken cancellationToken)
    {
        writer.WriteInt32(elements.Count);
        for (int i = 0; i < elements.Count; i++)
        {
            writer.WriteElement(codec, elements[i]);
            await writer.MaybeFlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a section of at most <paramref name="maxCount"/> elements; <paramref name="what"/> names it in errors.</summary>
    public static async ValueTask<List<T>> ReadAsync<T>(StateReader reader, IElementCodec<T> codec, int maxCount, string what, CancellationToken cancellationToken)
    {
        int count = await reader.ReadInt32Async(0, maxCount, what, cancellationToken).ConfigureAwait(false);
        var elements = new List<T>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            elements.Add(await reader.ReadElementAsync(codec, cancellationToken).ConfigureAwait(false));
        }

        return elements;
    }

    /// <summary>
    /// The format-2 section of the operators that may hold elements in flight (map, filter: inputs read but not yet
    /// passed to the function; interleave: elements read ahead from an open dataset): written only in a state of
    /// version 2 or later, which <paramref name="context"/> is asked for when <paramref name="elements"/> is not empty.
    /// </summary>
    /// <param name="context">The capture, asked for version 2 when there are elements.</param>
    /// <param name="elements">The elements in flight, in order.</param>
    /// <param name="codec">Resolves the codec; called only when there are elements, so an operator that never holds any needs none.</param>
    public static StateWrite CaptureInFlight<T>(CaptureContext context, T[] elements, Func<IElementCodec<T>> codec)
    {
        if (elements.Length == 0)
        {
            return static (writer, _) =>
            {
                if (writer.FormatVersion >= PipelineStateFormat.InFlightVersion)
                {
                    writer.WriteInt32(0);
                }

                return ValueTask.CompletedTask;
            };
        }

        context.Require(PipelineStateFormat.InFlightVersion);
        IElementCodec<T> resolved = codec();
        return (writer, cancellationToken) => WriteAsync(writer, resolved, elements, cancellationToken);
    }

    /// <summary>Reads what <see cref="CaptureInFlight"/> wrote: nothing from a state older than version 2.</summary>
    public static async ValueTask<T[]> ReadInFlightAsync<T>(StateReader reader, Func<IElementCodec<T>> codec, string what, CancellationToken cancellationToken)
    {
        if (reader.FormatVersion < PipelineStateFormat.InFlightVersion)
        {
            return [];
        }

        int count = await reader.ReadInt32Async(0, MaxCount, what, cancellationToken).ConfigureAwait(false);
        if (count == 0)
        {
            return [];
        }

        IElementCodec<T> resolved = codec();
        var elements = new T[count];
        for (int i = 0; i < count; i++)
        {
            elements[i] = await reader.ReadElementAsync(resolved, cancellationToken).ConfigureAwait(false);
        }

        return elements;
    }
}
