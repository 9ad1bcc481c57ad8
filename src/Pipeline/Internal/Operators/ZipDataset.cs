using InputPipeline.Checkpointing.Pipeline.Codecs;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary><c>zip</c>: pairs the elements of two datasets. The state is the first's, then the second's.</summary>
internal sealed class ZipDataset<T1, T2>(Dataset<T1> first, Dataset<T2> second) : Dataset<(T1, T2)>(first.Codecs)
{
    internal override IElementCodec<(T1, T2)>? DerivedCodec =>
        TryCodec(first, out IElementCodec<T1>? a) && TryCodec(second, out IElementCodec<T2>? b) ? new TupleCodec<T1, T2>(a, b) : null;

    internal override StructureNode Describe() => StructureNode.Create("zip", first.Describe(), second.Describe());

    internal override Node<(T1, T2)> CreateNode(IterationContext context) => new ZipNode(first.CreateNode(context), second.CreateNode(context));

    private static bool TryCodec<T>(Dataset<T> dataset, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IElementCodec<T>? codec)
    {
        try
        {
            codec = dataset.ResolveCodec("zip");
            return true;
        }
        catch (ElementCodecNotFoundException)
        {
            codec = null;
            return false;
        }
    }

    private sealed class ZipNode(Node<T1> first, Node<T2> second) : Node<(T1, T2)>
    {
        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (!await first.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            // Not cancellable: cancelling here would lose the first half of the pair.
            if (!await second.MoveNextAsync(CancellationToken.None).ConfigureAwait(false))
            {
                return false;
            }

            Current = (first.Current, second.Current);
            return true;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            StateWrite a = first.Capture(context);
            StateWrite b = second.Capture(context);
            return async (writer, cancellationToken) =>
            {
                await a(writer, cancellationToken).ConfigureAwait(false);
                await b(writer, cancellationToken).ConfigureAwait(false);
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            await first.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
            await second.RestoreAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        protected override async ValueTask ReleaseAsync()
        {
            await first.DisposeAsync().ConfigureAwait(false);
            await second.DisposeAsync().ConfigureAwait(false);
        }
    }
}
