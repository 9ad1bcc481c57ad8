using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace GcsEmulator.Storage;

internal enum StoreStatus
{
    Ok,
    BucketNotFound,
    ObjectNotFound,
    PreconditionFailed,
    NotModified,
    Conflict,
}

/// <summary>Parameters of an objects.list call.</summary>
internal sealed record ListQuery(
    string Prefix,
    string? Delimiter,
    string? StartOffset,
    string? EndOffset,
    bool IncludeTrailingDelimiter,
    int MaxResults,
    PageToken? Resume);

/// <summary>Where a listing continues: after an object name, or after every name under a prefix.</summary>
internal sealed record PageToken(bool IsPrefix, string Value)
{
    public string Encode() =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes((IsPrefix ? "P:" : "O:") + Value))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static PageToken? TryDecode(string token)
    {
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            return text.Length >= 2 && text[1] == ':' && (text[0] == 'P' || text[0] == 'O')
                ? new PageToken(text[0] == 'P', text[2..])
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

internal sealed record ListResult(IReadOnlyList<StoredObject> Items, IReadOnlyList<string> Prefixes, string? NextPageToken);

/// <summary>All emulator state. Every mutation of buckets and objects happens under one lock; object
/// content is immutable once committed, so readers stream it without holding the lock.</summary>
internal sealed class EmulatorState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, BucketEntry> _buckets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, UploadSession> _sessions = new(StringComparer.Ordinal);
    private long _lastGeneration;

    public EmulatorState(GcsEmulatorOptions options)
    {
        Options = options;
    }

    public GcsEmulatorOptions Options { get; }

    public FaultInjector Faults { get; } = new();

    public void Reset()
    {
        lock (_gate)
        {
            _buckets.Clear();
        }
        _sessions.Clear();
        Faults.Clear();
    }

    // ---- buckets -------------------------------------------------------------------------------

    public StoreStatus CreateBucket(string name, string project, string? location, string? storageClass, out BucketEntry bucket)
    {
        lock (_gate)
        {
            if (_buckets.TryGetValue(name, out var existing))
            {
                bucket = existing;
                return StoreStatus.Conflict;
            }
            bucket = new BucketEntry
            {
                Name = name,
                ProjectNumber = ProjectNumberFor(project),
                Location = string.IsNullOrEmpty(location) ? "US" : location.ToUpperInvariant(),
                StorageClass = string.IsNullOrEmpty(storageClass) ? "STANDARD" : storageClass.ToUpperInvariant(),
                TimeCreated = DateTimeOffset.UtcNow,
            };
            _buckets.Add(name, bucket);
            return StoreStatus.Ok;
        }
    }

    public BucketEntry? GetBucket(string name)
    {
        lock (_gate)
        {
            return _buckets.GetValueOrDefault(name);
        }
    }

    public IReadOnlyList<BucketEntry> ListBuckets(string project)
    {
        var number = ProjectNumberFor(project);
        lock (_gate)
        {
            return _buckets.Values
                .Where(b => b.ProjectNumber == number)
                .OrderBy(b => b.Name, StringComparer.Ordinal)
                .ToList();
        }
    }

    public StoreStatus DeleteBucket(string name)
    {
        lock (_gate)
        {
            if (!_buckets.TryGetValue(name, out var bucket))
            {
                return StoreStatus.BucketNotFound;
            }
            if (bucket.Objects.Count > 0)
            {
                return StoreStatus.Conflict;
            }
            _buckets.Remove(name);
            return StoreStatus.Ok;
        }
    }

    // ---- objects -------------------------------------------------------------------------------

    public StoreStatus GetObject(string bucketName, string objectName, long? generation, out StoredObject? found)
    {
        lock (_gate)
        {
            found = null;
            if (!_buckets.TryGetValue(bucketName, out var bucket))
            {
                return StoreStatus.BucketNotFound;
            }
            if (!bucket.Objects.TryGetValue(objectName, out var current)
                || (generation is { } wanted && current.Generation != wanted))
            {
                return StoreStatus.ObjectNotFound;
            }
            found = current;
            return StoreStatus.Ok;
        }
    }

    /// <summary>Atomically checks the write preconditions and makes <paramref name="content"/> the live generation.</summary>
    public StoreStatus CommitObject(
        string bucketName,
        ObjectMetadata metadata,
        SegmentedBuffer content,
        byte[] md5,
        uint crc32C,
        Preconditions preconditions,
        out StoredObject? committed)
    {
        var name = metadata.Name ?? throw new ArgumentException("The object name is required.", nameof(metadata));
        lock (_gate)
        {
            committed = null;
            if (!_buckets.TryGetValue(bucketName, out var bucket))
            {
                return StoreStatus.BucketNotFound;
            }
            var current = bucket.Objects.GetValueOrDefault(name);
            if (!preconditions.AllowsWrite(current))
            {
                return StoreStatus.PreconditionFailed;
            }

            var now = DateTimeOffset.UtcNow;
            committed = new StoredObject
            {
                Bucket = bucketName,
                Name = name,
                Generation = NextGeneration(now),
                Metageneration = 1,
                ContentType = string.IsNullOrEmpty(metadata.ContentType) ? "application/octet-stream" : metadata.ContentType,
                ContentEncoding = metadata.ContentEncoding,
                ContentDisposition = metadata.ContentDisposition,
                ContentLanguage = metadata.ContentLanguage,
                CacheControl = metadata.CacheControl,
                StorageClass = string.IsNullOrEmpty(metadata.StorageClass) ? bucket.StorageClass : metadata.StorageClass,
                CustomMetadata = metadata.CustomMetadata is { Count: > 0 } custom
                    ? new Dictionary<string, string>(custom, StringComparer.Ordinal)
                    : null,
                Size = content.Length,
                Md5 = md5,
                Crc32C = crc32C,
                TimeCreated = now,
                Updated = now,
                Content = content,
            };
            if (current is null)
            {
                var index = Utf8Ordering.LowerBound(bucket.SortedNames, name);
                bucket.SortedNames.Insert(index, name);
            }
            bucket.Objects[name] = committed;
            return StoreStatus.Ok;
        }
    }

    public StoreStatus DeleteObject(string bucketName, string objectName, long? generation, Preconditions preconditions)
    {
        lock (_gate)
        {
            if (!_buckets.TryGetValue(bucketName, out var bucket))
            {
                return StoreStatus.BucketNotFound;
            }
            if (!bucket.Objects.TryGetValue(objectName, out var current)
                || (generation is { } wanted && current.Generation != wanted))
            {
                return StoreStatus.ObjectNotFound;
            }
            if (preconditions.Evaluate(current, isRead: false) != PreconditionOutcome.Satisfied)
            {
                return StoreStatus.PreconditionFailed;
            }
            bucket.Objects.Remove(objectName);
            var index = bucket.SortedNames.BinarySearch(objectName, Utf8Ordering.Instance);
            bucket.SortedNames.RemoveAt(index);
            return StoreStatus.Ok;
        }
    }

    /// <summary>Applies a metadata patch (new metageneration) if the preconditions hold.</summary>
    public StoreStatus PatchObject(
        string bucketName,
        string objectName,
        long? generation,
        Preconditions preconditions,
        Func<StoredObject, StoredObject> update,
        out StoredObject? patched)
    {
        lock (_gate)
        {
            patched = null;
            if (!_buckets.TryGetValue(bucketName, out var bucket))
            {
                return StoreStatus.BucketNotFound;
            }
            if (!bucket.Objects.TryGetValue(objectName, out var current)
                || (generation is { } wanted && current.Generation != wanted))
            {
                return StoreStatus.ObjectNotFound;
            }
            if (preconditions.Evaluate(current, isRead: false) != PreconditionOutcome.Satisfied)
            {
                return StoreStatus.PreconditionFailed;
            }
            patched = update(current);
            bucket.Objects[objectName] = patched;
            return StoreStatus.Ok;
        }
    }

    public StoreStatus ListObjects(string bucketName, ListQuery query, out ListResult? result)
    {
        lock (_gate)
        {
            result = null;
            if (!_buckets.TryGetValue(bucketName, out var bucket))
            {
                return StoreStatus.BucketNotFound;
            }
            result = ListLocked(bucket, query);
            return StoreStatus.Ok;
        }
    }

    private static ListResult ListLocked(BucketEntry bucket, ListQuery query)
    {
        var names = bucket.SortedNames;
        var comparer = Utf8Ordering.Instance;
        var prefix = query.Prefix;
        var delimiter = string.IsNullOrEmpty(query.Delimiter) ? null : query.Delimiter;

        var start = prefix;
        if (query.StartOffset is { } startOffset && comparer.Compare(startOffset, start) > 0)
        {
            start = startOffset;
        }
        var index = Utf8Ordering.LowerBound(names, start);
        if (query.Resume is { } resume)
        {
            if (resume.IsPrefix)
            {
                index = Math.Max(index, Utf8Ordering.LowerBound(names, resume.Value));
                while (index < names.Count && names[index].StartsWith(resume.Value, StringComparison.Ordinal))
                {
                    index++;
                }
            }
            else
            {
                index = Math.Max(index, Utf8Ordering.UpperBound(names, resume.Value));
            }
        }

        var items = new List<StoredObject>();
        var prefixes = new List<string>();
        PageToken? last = null;
        var emitted = 0;
        var more = false;
        while (index < names.Count)
        {
            var name = names[index];
            if (!name.StartsWith(prefix, StringComparison.Ordinal))
            {
                break;
            }
            if (query.EndOffset is { } endOffset && comparer.Compare(name, endOffset) >= 0)
            {
                break;
            }
            if (emitted == query.MaxResults)
            {
                more = true;
                break;
            }

            var delimiterAt = delimiter is null ? -1 : name.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
            if (delimiterAt >= 0)
            {
                var commonPrefix = name[..(delimiterAt + delimiter!.Length)];
                prefixes.Add(commonPrefix);
                emitted++;
                last = new PageToken(true, commonPrefix);
                if (query.IncludeTrailingDelimiter && name.Length == commonPrefix.Length)
                {
                    items.Add(bucket.Objects[name]);
                }
                index++;
                while (index < names.Count && names[index].StartsWith(commonPrefix, StringComparison.Ordinal))
                {
                    index++;
                }
                continue;
            }

            items.Add(bucket.Objects[name]);
            emitted++;
            last = new PageToken(false, name);
            index++;
        }

        return new ListResult(items, prefixes, more && last is not null ? last.Encode() : null);
    }

    // ---- resumable upload sessions ---------------------------------------------------------------

    public UploadSession AddSession(string bucket, ObjectMetadata metadata, Preconditions preconditions, long? declaredLength)
    {
        var id = "EMU" + Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N")[..16];
        var session = new UploadSession
        {
            Id = id,
            Bucket = bucket,
            Metadata = metadata,
            Preconditions = preconditions,
            DeclaredLength = declaredLength,
        };
        _sessions[id] = session;
        return session;
    }

    public UploadSession? GetSession(string id) => _sessions.GetValueOrDefault(id);

    public bool RemoveSession(string id) => _sessions.TryRemove(id, out _);

    // ---- helpers ---------------------------------------------------------------------------------

    /// <summary>Strictly increasing generations, close to the commit time in microseconds like Cloud Storage's.</summary>
    private long NextGeneration(DateTimeOffset now)
    {
        var micros = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        _lastGeneration = Math.Max(_lastGeneration + 1, micros);
        return _lastGeneration;
    }

    /// <summary>A numeric project id is its own number; a project name maps to a stable 12-digit number.</summary>
    internal static string ProjectNumberFor(string project)
    {
        if (project.Length > 0 && project.All(char.IsAsciiDigit))
        {
            return project;
        }
        ulong hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(project))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }
        return (100000000000UL + (hash % 900000000000UL)).ToString(CultureInfo.InvariantCulture);
    }
}
