namespace GcsEmulator.Storage;

internal enum UploadState
{
    Active,
    Completed,
    Failed,
}

/// <summary>A resumable upload. Requests for one session are serialized through <see cref="Gate"/>.</summary>
internal sealed class UploadSession
{
    public required string Id { get; init; }
    public required string Bucket { get; init; }
    public required ObjectMetadata Metadata { get; init; }
    public required Preconditions Preconditions { get; init; }

    /// <summary>X-Upload-Content-Length from the initiation request, if given.</summary>
    public long? DeclaredLength { get; init; }

    /// <summary>Total size announced by a Content-Range "/total" so far, if any.</summary>
    public long? KnownTotal { get; set; }

    /// <summary>Persisted bytes; handed over to the object on completion.</summary>
    public SegmentedBuffer Buffer { get; private set; } = new();

    public SemaphoreSlim Gate { get; } = new(1, 1);

    public UploadState State { get; private set; } = UploadState.Active;

    /// <summary>Metadata snapshot of the object created by this session.</summary>
    public StoredObject? Result { get; private set; }

    /// <summary>The error finalization ended with, replayed to later requests.</summary>
    public EmulatorError? Failure { get; private set; }

    public void Complete(StoredObject result)
    {
        Result = result.WithoutContent();
        State = UploadState.Completed;
        Buffer = new SegmentedBuffer();
    }

    public void Fail(EmulatorError error)
    {
        Failure = error;
        State = UploadState.Failed;
        Buffer = new SegmentedBuffer();
    }
}
