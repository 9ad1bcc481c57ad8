using System.Security.Cryptography;
using Google.Apis.Services;
using Google.Apis.Upload;
using Object = Google.Apis.Storage.v1.Data.Object;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// The data of a resumable upload whose session the store started itself (through the client library's own uploader,
/// so that it could retry the start and cancel the session afterwards): the client library's resumable-upload
/// protocol sends the chunks and resumes a failed one from what the session holds; this class only hands it the
/// session and keeps the object the final chunk's answer describes. When hashing, it also hashes the bytes the
/// session confirmed (MD5), to compare with the object's.
/// </summary>
internal sealed class GcsSessionUpload : ResumableUpload, IDisposable
{
    private readonly Uri _session;
    private readonly IClientService _service;
    private readonly IncrementalHash? _md5;

    public GcsSessionUpload(Uri session, Stream content, IClientService service, int chunkSize, bool hashed)
        : base(content, new ResumableUploadOptions { HttpClient = service.HttpClient, Serializer = service.Serializer, ServiceName = service.Name })
    {
        _session = session;
        _service = service;
        ChunkSize = chunkSize;
        if (hashed)
        {
#pragma warning disable CA5351 // MD5 is the integrity check Cloud Storage keeps for objects (md5Hash), not a security measure.
            _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
#pragma warning restore CA5351
            IncrementalHash md5 = _md5;
            UploadStreamInterceptor = (buffer, offset, count) => md5.AppendData(buffer, offset, count);
        }
    }

    /// <summary>Gets the object the upload created, once it completed.</summary>
    public Object? Result { get; private set; }

    /// <summary>Returns the base64 MD5 of the bytes the session confirmed when hashing, else <see langword="null"/>.</summary>
    public string? Md5Base64() => _md5 is null ? null : Convert.ToBase64String(_md5.GetHashAndReset());

    public override Task<Uri> InitiateSessionAsync(CancellationToken cancellationToken = default) => Task.FromResult(_session);

    public void Dispose() => _md5?.Dispose();

    protected override void ProcessResponse(HttpResponseMessage httpResponse)
    {
        using Stream body = httpResponse.Content.ReadAsStream();
        Result = _service.Serializer.Deserialize<Object>(body);
    }
}
