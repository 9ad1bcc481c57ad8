using System.Diagnostics;
using System.Globalization;

namespace InputPipeline.Checkpointing.Local.Internal;

/// <summary>
/// Exclusive per-key locks that hold across threads and processes. Keys are hashed onto a fixed number of stripes;
/// each stripe is an in-process gate plus a lock file opened with <see cref="FileShare.None"/> (an advisory
/// <c>flock</c> on Unix, a sharing lock on Windows), which the operating system releases if the process dies.
/// </summary>
/// <remarks>
/// A fixed number of stripes keeps the lock folder small however many keys the store holds; two keys on one
/// stripe only wait for each other's short commit step, never for an upload.
/// </remarks>
internal sealed class KeyLockTable
{
    private const int StripeCount = 256;
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMilliseconds(50);

    private const int MaxDirectoryRetries = 5;
    private readonly SemaphoreSlim[] _gates;
    private readonly string _directory;
    private readonly TimeSpan _timeout;
    private readonly Action<string> _ensureDirectory;

    public KeyLockTable(string directory, TimeSpan timeout, Action<string> ensureDirectory)
    {
        _directory = directory;
        _timeout = timeout;
        _ensureDirectory = ensureDirectory;
        _gates = new SemaphoreSlim[StripeCount];
        for (int i = 0; i < _gates.Length; i++)
        {
            _gates[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>Takes the lock of <paramref name="key"/>; dispose the result to release it.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The held lock.</returns>
    /// <exception cref="CheckpointStoreException">The lock was not obtained within the timeout (with a <see cref="TimeoutException"/> inside).</exception>
    /// <exception cref="IOException">The lock file could not be created.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        int stripe = StripeOf(key);
        long start = Stopwatch.GetTimestamp();
        SemaphoreSlim gate = _gates[stripe];
        if (!await gate.WaitAsync(_timeout, cancellationToken).ConfigureAwait(false))
        {
            throw TimedOut(key, $"Timed out after {_timeout.TotalSeconds:0.###} s waiting for the lock of the key: another write of it in this process did not finish.");
        }

        try
        {
            FileStream file = await OpenLockFileAsync(key, stripe, start, cancellationToken).ConfigureAwait(false);
            return new Lease(gate, file);
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    private static CheckpointStoreException TimedOut(string key, string message) =>
        new(LocalInputStateStore.LocalProviderName, key, message, new TimeoutException(message));

    private async Task<FileStream> OpenLockFileAsync(string key, int stripe, long start, CancellationToken cancellationToken)
    {
        string path = Path.Join(_directory, stripe.ToString("x2", CultureInfo.InvariantCulture) + ".lock");
        TimeSpan backoff = FirstBackoff;
        int directoryRetries = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
            }
            catch (IOException ex) when (FileErrors.IsMissingParent(ex) && directoryRetries++ < MaxDirectoryRetries)
            {
                _ensureDirectory(_directory);
                continue;
            }
            catch (IOException ex) when (FileErrors.IsSharingViolation(ex))
            {
                // Another store instance or process holds it.
            }

            if (Stopwatch.GetElapsedTime(start) >= _timeout)
            {
                throw TimedOut(key, $"Timed out after {_timeout.TotalSeconds:0.###} s waiting for the lock file '{path}': another process keeps writing the key (or a key sharing its lock file) or hangs while holding the lock.");
            }

            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Maps a key to its stripe with a hash that is the same in every process (FNV-1a over the upper-cased key, so that keys differing only in case share a lock on case-insensitive file systems).</summary>
    private static int StripeOf(string key)
    {
        uint hash = 2166136261;
        foreach (char c in key)
        {
            hash = (hash ^ char.ToUpperInvariant(c)) * 16777619;
        }

        return (int)(hash % StripeCount);
    }

    private sealed class Lease(SemaphoreSlim gate, FileStream file) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                file.Dispose();
                gate.Release();
            }
        }
    }
}
