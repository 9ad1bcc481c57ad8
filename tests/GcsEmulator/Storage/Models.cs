namespace GcsEmulator.Storage;

/// <summary>User-settable object metadata, as given in an upload's JSON metadata or query string.</summary>
internal sealed class ObjectMetadata
{
    public string? Name { get; set; }
    public string? ContentType { get; set; }
    public string? ContentEncoding { get; set; }
    public string? ContentDisposition { get; set; }
    public string? ContentLanguage { get; set; }
    public string? CacheControl { get; set; }
    public string? StorageClass { get; set; }
    public Dictionary<string, string>? CustomMetadata { get; set; }

    /// <summary>Client-supplied MD5 (base64) the content must match, if any.</summary>
    public string? ExpectedMd5 { get; set; }

    /// <summary>Client-supplied CRC-32C (base64) the content must match, if any.</summary>
    public string? ExpectedCrc32C { get; set; }
}

/// <summary>One live object generation. Immutable: a metadata update creates a new instance.</summary>
internal sealed class StoredObject
{
    public required string Bucket { get; init; }
    public required string Name { get; init; }
    public required long Generation { get; init; }
    public required long Metageneration { get; init; }
    public required string ContentType { get; init; }
    public string? ContentEncoding { get; init; }
    public string? ContentDisposition { get; init; }
    public string? ContentLanguage { get; init; }
    public string? CacheControl { get; init; }
    public required string StorageClass { get; init; }
    public IReadOnlyDictionary<string, string>? CustomMetadata { get; init; }
    public required long Size { get; init; }
    public required byte[] Md5 { get; init; }
    public required uint Crc32C { get; init; }
    public required DateTimeOffset TimeCreated { get; init; }
    public required DateTimeOffset Updated { get; init; }

    /// <summary>The content; null only in metadata snapshots kept by finished upload sessions.</summary>
    public SegmentedBuffer? Content { get; init; }

    public StoredObject WithoutContent() => Clone(Metageneration, Updated, content: null);

    public StoredObject Clone(long metageneration, DateTimeOffset updated, SegmentedBuffer? content) => new()
    {
        Bucket = Bucket,
        Name = Name,
        Generation = Generation,
        Metageneration = metageneration,
        ContentType = ContentType,
        ContentEncoding = ContentEncoding,
        ContentDisposition = ContentDisposition,
        ContentLanguage = ContentLanguage,
        CacheControl = CacheControl,
        StorageClass = StorageClass,
        CustomMetadata = CustomMetadata,
        Size = Size,
        Md5 = Md5,
        Crc32C = Crc32C,
        TimeCreated = TimeCreated,
        Updated = updated,
        Content = content,
    };
}

/// <summary>A bucket and its live objects. Guarded by the state's lock.</summary>
internal sealed class BucketEntry
{
    public required string Name { get; init; }
    public required string ProjectNumber { get; init; }
    public required string Location { get; init; }
    public required string StorageClass { get; init; }
    public required DateTimeOffset TimeCreated { get; init; }

    /// <summary>Object names in Cloud Storage order (UTF-8 byte order).</summary>
    public List<string> SortedNames { get; } = [];

    public Dictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);
}
