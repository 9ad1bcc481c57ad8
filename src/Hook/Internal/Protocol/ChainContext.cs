using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace InputPipeline.Checkpointing.Internal;

/// <summary>What every piece of one manager shares and never changes: the store, the chain's key layout, the writer's
/// identity, its options, clock, logger and instruments.</summary>
internal sealed class ChainContext
{
    public ChainContext(IInputStateStore store, CheckpointManagerOptions options, string writerId, ILogger logger, TimeProvider time, CheckpointingMetrics metrics, object metricsOwner)
    {
        Store = store;
        Options = options;
        Layout = new CheckpointKeyLayout(options.Chain, options.StateFileKey);
        WriterId = writerId;
        Logger = logger;
        Time = time;
        Metrics = metrics;
        MetricsOwner = metricsOwner;
    }

    public IInputStateStore Store { get; }

    public CheckpointManagerOptions Options { get; }

    public CheckpointKeyLayout Layout { get; }

    public string WriterId { get; }

    public ILogger Logger { get; }

    public TimeProvider Time { get; }

    public CheckpointingMetrics Metrics { get; }

    /// <summary>Gets the object the age of the latest checkpoint is reported for (the manager).</summary>
    public object MetricsOwner { get; }

    public string Chain => Layout.Chain;

    public string StateFileKey => Layout.StateFileKey;

    public string Provider => Store.ProviderName;

    public static string RandomHex(int bytes)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(buffer);
        return Convert.ToHexStringLower(buffer);
    }

    /// <exception cref="ArgumentException">A checkpointable name is invalid or given twice (names differing only in case collide on some stores).</exception>
    public static void ValidateNames(IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in names)
        {
            StoreKey.ValidateName(name, "name");
            if (!seen.Add(name))
            {
                throw new ArgumentException($"The checkpointable name \"{name}\" is given more than once.", nameof(names));
            }
        }
    }
}
