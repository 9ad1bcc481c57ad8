using System.Globalization;

namespace InputPipeline.Checkpointing;

/// <summary>
/// The one place that names a chain's objects in a store. A chain (for example <c>input</c>) has a state file
/// (<c>checkpoint_input</c>; the Estimator's model chain keeps TensorFlow's <c>checkpoint</c>) and, for each save, a
/// manifest and parts under a save prefix unique to that save:
/// <code>
/// checkpoint_input                                  state file (replaced by compare-and-swap only)
/// input.ckpt-120.3fa2c1d07b9e.manifest              manifest of the save at step 120, save id 3fa2c1d07b9e
/// input.ckpt-120.3fa2c1d07b9e.iterator.part         its part for the checkpointable "iterator"
/// </code>
/// The checkpoint manager writes these keys; the <c>ckpt</c> tool, the health check and the estimator find them through
/// this type, never by re-deriving the format.
/// </summary>
/// <remarks>A chain name never contains <c>.ckpt</c>, so the first <c>.ckpt-</c> of a key ends its chain.</remarks>
public sealed class CheckpointKeyLayout
{
    /// <summary>The input pipeline's chain: <c>input</c> (base name <c>input.ckpt</c>, as TensorFlow's hook).</summary>
    public const string InputChain = "input";

    /// <summary>The Estimator's model chain with one worker: <c>model</c> (base name <c>model.ckpt</c>).</summary>
    public const string ModelChain = "model";

    /// <summary>The state file of the Estimator's single-worker model chain: <c>checkpoint</c>, as TensorFlow names it.</summary>
    public const string ModelStateFileKey = "checkpoint";

    /// <summary>The prefix of every other state file: <c>checkpoint_</c>, followed by the chain.</summary>
    public const string StateFilePrefix = "checkpoint_";

    /// <summary>What follows the chain in every manifest and part key: <c>.ckpt-</c>, then the step.</summary>
    public const string StepMarker = ".ckpt-";

    /// <summary>The suffix of a manifest key: <c>.manifest</c>.</summary>
    public const string ManifestSuffix = ".manifest";

    /// <summary>The suffix of a part key: <c>.part</c>.</summary>
    public const string PartSuffix = ".part";

    /// <summary>Creates the layout of <paramref name="chain"/>.</summary>
    /// <param name="chain">The chain; see <see cref="IsValidChain(string?)"/>.</param>
    /// <param name="stateFileKey">The state file; <see langword="null"/> (the default) is <see cref="StateFileKeyOf(string)"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="chain"/> is not a valid chain name, or <paramref name="stateFileKey"/> not a valid key.</exception>
    public CheckpointKeyLayout(string chain, string? stateFileKey = null)
    {
        if (!IsValidChain(chain))
        {
            throw new ArgumentException($"\"{chain}\" is not a valid chain name: use 1 to {StoreKey.MaxNameLength} characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..' or '.ckpt'.", nameof(chain));
        }

        if (stateFileKey is not null)
        {
            StoreKey.Validate(stateFileKey, nameof(stateFileKey));
        }

        Chain = chain;
        StateFileKey = stateFileKey ?? StateFileKeyOf(chain);
    }

    /// <summary>Gets the chain.</summary>
    public string Chain { get; }

    /// <summary>Gets the key of the chain's state file.</summary>
    public string StateFileKey { get; }

    /// <summary>Gets the prefix every manifest and part key of the chain starts with, for example <c>input.ckpt-</c>.</summary>
    public string ChainPrefix => Chain + StepMarker;

    /// <summary>Returns the save prefix of a save: <c>&lt;chain&gt;.ckpt-&lt;step&gt;.&lt;save id&gt;</c>.</summary>
    /// <param name="step">The step saved.</param>
    /// <param name="saveId">The id unique to the save.</param>
    /// <returns>The prefix its manifest and part keys start with.</returns>
    public string SavePrefix(long step, string saveId) => string.Create(CultureInfo.InvariantCulture, $"{Chain}{StepMarker}{step}.{saveId}");

    /// <summary>Returns the manifest key of a save: its save prefix and <see cref="ManifestSuffix"/>.</summary>
    /// <param name="step">The step saved.</param>
    /// <param name="saveId">The id unique to the save.</param>
    /// <returns>The key.</returns>
    public string ManifestKey(long step, string saveId) => SavePrefix(step, saveId) + ManifestSuffix;

    /// <summary>Returns the key of the part <paramref name="name"/> of a save: its save prefix, the name and <see cref="PartSuffix"/>.</summary>
    /// <param name="step">The step saved.</param>
    /// <param name="saveId">The id unique to the save.</param>
    /// <param name="name">The checkpointable's name.</param>
    /// <returns>The key.</returns>
    public string PartKey(long step, string saveId, string name) => $"{SavePrefix(step, saveId)}.{name}{PartSuffix}";

    /// <summary>Returns the default state file of <paramref name="chain"/>: <c>checkpoint_&lt;chain&gt;</c>.</summary>
    /// <param name="chain">The chain.</param>
    /// <returns>The key.</returns>
    public static string StateFileKeyOf(string chain) => StateFilePrefix + chain;

    /// <summary>
    /// Returns the state file the SDK's writers use for <paramref name="chain"/>: <see cref="ModelStateFileKey"/> for the
    /// Estimator's <see cref="ModelChain"/>, otherwise <see cref="StateFileKeyOf(string)"/>.
    /// </summary>
    /// <param name="chain">The chain.</param>
    /// <returns>The key.</returns>
    public static string WriterStateFileKeyOf(string chain) =>
        string.Equals(chain, ModelChain, StringComparison.Ordinal) ? ModelStateFileKey : StateFileKeyOf(chain);

    /// <summary>Returns the chain of one worker of several: <c>&lt;baseChain&gt;_&lt;taskType&gt;_&lt;taskId&gt;</c>, for example <c>input_worker_1</c>.</summary>
    /// <param name="baseChain">The chain of a single worker, for example <see cref="InputChain"/> or <see cref="ModelChain"/>.</param>
    /// <param name="taskType">The worker's task type, for example <c>worker</c>.</param>
    /// <param name="taskId">The worker's task id.</param>
    /// <returns>The chain name (not validated).</returns>
    public static string WorkerChain(string baseChain, string taskType, int taskId) =>
        string.Create(CultureInfo.InvariantCulture, $"{baseChain}_{taskType}_{taskId}");

    /// <summary>
    /// Returns the chain a worker writes: <paramref name="baseChain"/> with one replica, else its
    /// <see cref="WorkerChain(string, string, int)"/>, so workers never share a chain.
    /// </summary>
    /// <param name="baseChain">The chain of a single worker.</param>
    /// <param name="numWorkerReplicas">The number of worker replicas.</param>
    /// <param name="taskType">This worker's task type.</param>
    /// <param name="taskId">This worker's task id.</param>
    /// <returns>The chain name (not validated).</returns>
    public static string ChainFor(string baseChain, int numWorkerReplicas, string taskType, int taskId) =>
        numWorkerReplicas > 1 ? WorkerChain(baseChain, taskType, taskId) : baseChain;

    /// <summary>
    /// Returns the layout of the Estimator's model chain: <c>model</c> with state file <c>checkpoint</c>, or with several
    /// replicas <c>model_&lt;taskType&gt;_&lt;taskId&gt;</c> with <c>checkpoint_model_&lt;taskType&gt;_&lt;taskId&gt;</c>.
    /// </summary>
    /// <param name="numWorkerReplicas">The number of worker replicas.</param>
    /// <param name="taskType">This worker's task type.</param>
    /// <param name="taskId">This worker's task id.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentException">The task type makes no valid chain name.</exception>
    public static CheckpointKeyLayout ForModel(int numWorkerReplicas, string taskType, int taskId)
    {
        string chain = ChainFor(ModelChain, numWorkerReplicas, taskType, taskId);
        return new CheckpointKeyLayout(chain, WriterStateFileKeyOf(chain));
    }

    /// <summary>Returns whether <paramref name="chain"/> is a valid chain name: a checkpoint name (see <see cref="StoreKey.IsValidName(string?)"/>) without <c>.ckpt</c>.</summary>
    /// <param name="chain">The name.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidChain(string? chain) =>
        StoreKey.IsValidName(chain) && !chain!.Contains(".ckpt", StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns whether <paramref name="key"/> names a state file: <see cref="ModelStateFileKey"/> or <see cref="StateFilePrefix"/> and a chain.</summary>
    /// <param name="key">The key.</param>
    /// <param name="chain">The chain its name implies (<see cref="ModelChain"/> for <c>checkpoint</c>); the state file itself records the chain it belongs to.</param>
    /// <returns><see langword="true"/> when the key has the form of a state file.</returns>
    public static bool TryParseStateFileKey(string key, out string chain)
    {
        ArgumentNullException.ThrowIfNull(key);
        chain = string.Equals(key, ModelStateFileKey, StringComparison.Ordinal) ? ModelChain
            : key.StartsWith(StateFilePrefix, StringComparison.Ordinal) ? key[StateFilePrefix.Length..]
            : string.Empty;
        return chain.Length > 0;
    }

    /// <summary>Returns the save prefix a manifest key starts with (<c>input.ckpt-120.3fa2c1d07b9e</c>), or the key itself when it is not a manifest key.</summary>
    /// <param name="manifestKey">The manifest key.</param>
    /// <returns>The save prefix; a part of the same save has the key <c>&lt;save prefix&gt;.&lt;name&gt;.part</c>.</returns>
    public static string SavePrefixOf(string manifestKey)
    {
        ArgumentNullException.ThrowIfNull(manifestKey);
        return manifestKey.EndsWith(ManifestSuffix, StringComparison.Ordinal) ? manifestKey[..^ManifestSuffix.Length] : manifestKey;
    }

    /// <summary>Returns whether <paramref name="key"/> ends like a manifest key.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when it ends with <see cref="ManifestSuffix"/>.</returns>
    public static bool IsManifestKey(string key) => key is not null && key.EndsWith(ManifestSuffix, StringComparison.Ordinal);

    /// <summary>Returns whether <paramref name="key"/> ends like a part key.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when it ends with <see cref="PartSuffix"/>.</returns>
    public static bool IsPartKey(string key) => key is not null && key.EndsWith(PartSuffix, StringComparison.Ordinal);

    /// <summary>Parses a manifest or part key of any chain.</summary>
    /// <param name="key">The key, for example <c>input.ckpt-120.3fa2c1d07b9e.iterator.part</c>.</param>
    /// <param name="parsed">The chain, step, save id and (for a part) the checkpointable's name.</param>
    /// <returns><see langword="true"/> when the key is a manifest or part key of a valid chain.</returns>
    public static bool TryParseObjectKey(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CheckpointObjectKey? parsed)
    {
        parsed = null;
        int marker = key?.IndexOf(StepMarker, StringComparison.Ordinal) ?? -1;
        if (marker <= 0 || !IsValidChain(key![..marker]))
        {
            return false;
        }

        int stepStart = marker + StepMarker.Length;
        int stepEnd = key.IndexOf('.', stepStart);
        int idEnd = stepEnd < 0 ? -1 : key.IndexOf('.', stepEnd + 1);
        if (stepEnd <= stepStart || idEnd <= stepEnd + 1
            || !long.TryParse(key.AsSpan(stepStart, stepEnd - stepStart), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
        {
            return false;
        }

        string rest = key[(idEnd + 1)..];
        string? partName = rest == ManifestSuffix[1..] ? null
            : rest.Length > PartSuffix.Length && rest.EndsWith(PartSuffix, StringComparison.Ordinal) ? rest[..^PartSuffix.Length]
            : string.Empty;
        if (partName is { Length: 0 })
        {
            return false;
        }

        parsed = new CheckpointObjectKey(key[..marker], step, key[(stepEnd + 1)..idEnd], partName);
        return true;
    }
}

/// <summary>A manifest or part key taken apart by <see cref="CheckpointKeyLayout.TryParseObjectKey"/>.</summary>
/// <param name="Chain">The chain.</param>
/// <param name="Step">The step of the save.</param>
/// <param name="SaveId">The id unique to the save.</param>
/// <param name="PartName">The checkpointable's name for a part; <see langword="null"/> for a manifest.</param>
public sealed record CheckpointObjectKey(string Chain, long Step, string SaveId, string? PartName)
{
    /// <summary>Gets whether the key is a manifest's.</summary>
    public bool IsManifest => PartName is null;
}
