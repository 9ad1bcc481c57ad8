using System.Globalization;
using System.Runtime.CompilerServices;

namespace InputPipeline.Checkpointing.Testing;

/// <summary>
/// A thread-safe <see cref="IInputStateStore"/> that keeps its objects in memory, with the same semantics as the
/// real stores: conditional writes, versions, offsets, listing by prefix and conditional deletes. Meant for tests.
/// </summary>
/// <remarks>
/// <para>
/// Versions are tokens from a counter that increases with every write to the store (<c>1</c>, <c>2</c>, …), so a
/// version is never reused, even after a delete. <see cref="StoreObjectInfo.LastModified"/> comes from the
/// <see cref="TimeProvider"/> given to the constructor, so a test can advance a fake clock past a grace period.
/// </para>
/// <para>
/// Written content is copied; a reader gets its own read-only stream over the object as it was when the read
/// started. The test helpers (<see cref="Keys"/>, <see cref="GetBytes"/>, <see cref="SetBytes"/>, <see cref="Corrupt"/>,
/// <see cref="Remove"/>, <see cref="Clear"/>) act on the objects directly, without the key rules or conditions of the
/// store contract.
/// </para>
/// </remarks>
public sealed class InMemoryInputStateStore : IInputStateStore
{
    /// <summary>The provider name, <c>InMemory</c>.</summary>
    public const string InMemoryProviderName = "InMemory";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _objects = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private long _lastVersion;

    /// <summary>Creates an empty store.</summary>
    /// <param name="timeProvider">The clock for <see cref="StoreObjectInfo.LastModified"/>; <see langword="null"/> (the default) uses <see cref="TimeProvider.System"/>.</param>
    public InMemoryInputStateStore(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    /// <value>Always <see cref="InMemoryProviderName"/>.</value>
    public string ProviderName => InMemoryProviderName;

    /// <summary>Gets a snapshot of the keys currently stored, in ordinal order.</summary>
    public IReadOnlyCollection<string> Keys
    {
        get
        {
            lock (_gate)
            {
                return _objects.Keys.Order(StringComparer.Ordinal).ToArray();
            }
        }
    }

    /// <summary>Gets the number of objects currently stored.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _objects.Count;
            }
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="content"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key, <paramref name="content"/> is not readable, or <paramref name="condition"/> lacks its version.</exception>
    /// <exception cref="CheckpointConflictException">The condition did not hold; nothing was written.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; nothing was written.</exception>
    public async Task<StoreVersion> WriteAsync(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        StoreKey.Validate(key, nameof(key));
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanRead)
        {
            throw new ArgumentException("The content stream is not readable.", nameof(content));
        }

        if (condition.Kind == WriteConditionKind.IfVersionMatches && string.IsNullOrEmpty(condition.Version?.Value))
        {
            throw new ArgumentException("A compare-and-swap condition needs a version.", nameof(condition));
        }

        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            // Fail fast, as the real stores do; the condition is checked again when the object is stored.
            CheckCondition(key, condition);
        }

        byte[] bytes;
        using (var copy = new MemoryStream())
        {
            await content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            bytes = copy.ToArray();
        }

        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            CheckCondition(key, condition);
            return Store(key, bytes);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public Task<StoreReadResult?> ReadAsync(string key, long offset = 0, CancellationToken cancellationToken = default)
    {
        StoreKey.Validate(key, nameof(key));
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<StoreReadResult?>(cancellationToken);
        }

        Entry? entry;
        lock (_gate)
        {
            _objects.TryGetValue(key, out entry);
        }

        if (entry is null)
        {
            return Task.FromResult<StoreReadResult?>(null);
        }

        // Stored arrays are never changed in place, so the reader can share this one.
        int start = (int)Math.Min(offset, entry.Bytes.Length);
        var stream = new MemoryStream(entry.Bytes, start, entry.Bytes.Length - start, writable: false);
        return Task.FromResult<StoreReadResult?>(new StoreReadResult(stream, entry.Info(key), offset));
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="prefix"/> is null.</exception>
    public IAsyncEnumerable<StoreObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return ListCoreAsync(prefix, cancellationToken);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key, or <paramref name="ifVersion"/> is an empty version.</exception>
    public Task<bool> DeleteAsync(string key, StoreVersion? ifVersion = null, CancellationToken cancellationToken = default)
    {
        StoreKey.Validate(key, nameof(key));
        if (ifVersion is { } required && string.IsNullOrEmpty(required.Value))
        {
            throw new ArgumentException("The version is empty.", nameof(ifVersion));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<bool>(cancellationToken);
        }

        lock (_gate)
        {
            if (!_objects.TryGetValue(key, out Entry? entry))
            {
                return Task.FromResult(false);
            }

            if (ifVersion is { } expected && !string.Equals(entry.Version.Value, expected.Value, StringComparison.Ordinal))
            {
                throw new CheckpointConflictException(ProviderName, key, WriteCondition.IfVersionMatches(expected));
            }

            _objects.Remove(key);
            return Task.FromResult(true);
        }
    }

    /// <summary>Returns a copy of the object's bytes, or <see langword="null"/> if the key does not exist.</summary>
    /// <param name="key">The key.</param>
    /// <returns>A copy of the content.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public byte[]? GetBytes(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            return _objects.TryGetValue(key, out Entry? entry) ? (byte[])entry.Bytes.Clone() : null;
        }
    }

    /// <summary>Returns the object's metadata, or <see langword="null"/> if the key does not exist.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The metadata.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public StoreObjectInfo? GetInfo(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            return _objects.TryGetValue(key, out Entry? entry) ? entry.Info(key) : null;
        }
    }

    /// <summary>Stores a copy of <paramref name="bytes"/> at <paramref name="key"/> unconditionally, as a write would (new version, current time).</summary>
    /// <param name="key">The key; not checked against the key rules, so a test can plant any object.</param>
    /// <param name="bytes">The content.</param>
    /// <returns>The new version.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public StoreVersion SetBytes(string key, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(key);
        byte[] copy = bytes.ToArray();
        lock (_gate)
        {
            return Store(key, copy);
        }
    }

    /// <summary>
    /// Damages an object in place, as rot at rest would: its content becomes what <paramref name="damage"/> returns,
    /// while its version and modification time stay the same (its length follows the new content).
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="damage">Receives a copy of the content and returns the damaged content (it may change and return its argument).</param>
    /// <returns><see langword="true"/> if the object existed and was damaged; <see langword="false"/> if the key does not exist.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="damage"/> is null, or <paramref name="damage"/> returned null.</exception>
    public bool Corrupt(string key, Func<byte[], byte[]> damage)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(damage);
        lock (_gate)
        {
            if (!_objects.TryGetValue(key, out Entry? entry))
            {
                return false;
            }

            byte[] damaged = damage((byte[])entry.Bytes.Clone()) ?? throw new ArgumentNullException(nameof(damage), "The damage function returned null.");
            _objects[key] = entry with { Bytes = (byte[])damaged.Clone() };
            return true;
        }
    }

    /// <summary>Removes an object directly, without a condition.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> if it existed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            return _objects.Remove(key);
        }
    }

    /// <summary>Removes every object. Versions keep increasing afterwards.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _objects.Clear();
        }
    }

    private async IAsyncEnumerable<StoreObjectInfo> ListCoreAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        StoreObjectInfo[] snapshot;
        lock (_gate)
        {
            snapshot = _objects
                .Where(pair => pair.Key.StartsWith(prefix, StringComparison.Ordinal))
                .OrderBy(pair => pair.Key, StringComparer.Ordinal)
                .Select(pair => pair.Value.Info(pair.Key))
                .ToArray();
        }

        foreach (StoreObjectInfo info in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return info;
        }
    }

    private void CheckCondition(string key, WriteCondition condition)
    {
        bool exists = _objects.TryGetValue(key, out Entry? current);
        bool holds = condition.Kind switch
        {
            WriteConditionKind.IfAbsent => !exists,
            WriteConditionKind.IfVersionMatches => exists && string.Equals(current!.Version.Value, condition.Version!.Value.Value, StringComparison.Ordinal),
            _ => true,
        };
        if (!holds)
        {
            throw new CheckpointConflictException(ProviderName, key, condition);
        }
    }

    private StoreVersion Store(string key, byte[] bytes)
    {
        var version = new StoreVersion((++_lastVersion).ToString(CultureInfo.InvariantCulture));
        _objects[key] = new Entry(bytes, version, _timeProvider.GetUtcNow());
        return version;
    }

    private sealed record Entry(byte[] Bytes, StoreVersion Version, DateTimeOffset LastModified)
    {
        public StoreObjectInfo Info(string key) => new(key, Bytes.Length, Version, LastModified);
    }
}
