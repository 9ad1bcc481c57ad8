using System.Text.Json;
using System.Text.Json.Serialization;

namespace InputPipeline.Checkpointing;

/// <summary>
/// The manifest of one checkpoint: written create-only after all its parts, it names every part with its
/// length and checksum. A checkpoint exists once a state file references its manifest.
/// </summary>
public sealed record CheckpointManifest
{
    /// <summary>The manifest format version this SDK writes and the newest it reads: 1.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Gets the format version the manifest was written in.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Gets the chain (checkpoint base name without <c>.ckpt</c>, for example <c>input</c> or <c>input_worker_1</c>).</summary>
    public required string Chain { get; init; }

    /// <summary>Gets the global step the checkpoint was taken at.</summary>
    public required long Step { get; init; }

    /// <summary>Gets when the state was captured (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets the id of the writer (process) that saved it.</summary>
    public required string WriterId { get; init; }

    /// <summary>Gets the id unique to this save; part and manifest keys contain it.</summary>
    public required string SaveId { get; init; }

    /// <summary>Gets the parts, one or more per checkpointable, in capture order.</summary>
    public required IReadOnlyList<CheckpointPartInfo> Parts { get; init; }

    /// <summary>Gets the total length of the parts in bytes.</summary>
    [JsonIgnore]
    public long TotalLength => Parts.Sum(p => p.Length);

    /// <summary>Serialises the manifest to UTF-8 JSON.</summary>
    /// <returns>The JSON bytes.</returns>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, CheckpointJsonContext.Default.CheckpointManifest);

    /// <summary>Parses a manifest and checks it is complete and consistent.</summary>
    /// <param name="utf8Json">The JSON bytes.</param>
    /// <param name="key">The key it was read from, for error messages.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="CheckpointFormatVersionException">It was written in an unknown format version.</exception>
    /// <exception cref="CheckpointCorruptedException">It is not valid JSON or misses required fields.</exception>
    public static CheckpointManifest Parse(ReadOnlySpan<byte> utf8Json, string key)
    {
        CheckpointManifest? manifest = CheckpointJson.Deserialize(utf8Json, key, CheckpointJsonContext.Default.CheckpointManifest);
        if (manifest is null)
        {
            throw new CheckpointCorruptedException(key, "the manifest is empty (JSON null).");
        }

        Check(manifest, key);
        return manifest;
    }

    /// <summary>Checks that a parsed manifest is of a known version, complete and consistent.</summary>
    internal static void Check(CheckpointManifest manifest, string key)
    {
        CheckpointJson.CheckVersion(key, manifest.FormatVersion, CurrentFormatVersion);
        if (manifest.Parts is null || string.IsNullOrEmpty(manifest.Chain) || manifest.Step < 0 || string.IsNullOrEmpty(manifest.SaveId))
        {
            throw new CheckpointCorruptedException(key, "the manifest misses its chain, step, save id or parts.");
        }

        foreach (CheckpointPartInfo part in manifest.Parts)
        {
            if (part is null || string.IsNullOrEmpty(part.Name) || !StoreKey.IsValid(part.Key) || part.Length < 0 || string.IsNullOrEmpty(part.Checksum))
            {
                throw new CheckpointCorruptedException(key, "the manifest lists a part without a valid name, key, length or checksum.");
            }
        }
    }
}

/// <summary>One part of a checkpoint: a stored object holding (a piece of) one checkpointable's state.</summary>
public sealed record CheckpointPartInfo
{
    /// <summary>Gets the name of the checkpointable the part belongs to.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the part's store key.</summary>
    public required string Key { get; init; }

    /// <summary>Gets the part's length in bytes.</summary>
    public required long Length { get; init; }

    /// <summary>Gets the part's checksum as <c>algorithm:hex</c>, for example <c>xxh3:0123456789abcdef</c>.</summary>
    public required string Checksum { get; init; }
}

/// <summary>One checkpoint referenced by a state file.</summary>
public sealed record CheckpointReference
{
    /// <summary>Gets the checkpoint's global step.</summary>
    public required long Step { get; init; }

    /// <summary>Gets the key of its manifest.</summary>
    public required string ManifestKey { get; init; }

    /// <summary>Gets when it was captured (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// A chain's state file (<c>checkpoint_input</c> for the input pipeline, <c>checkpoint</c> for the model): who owns the
/// chain, the latest checkpoint with its manifest, and every retained checkpoint, newest first. It is replaced only by
/// compare-and-swap.
/// </summary>
/// <remarks>
/// Format version 2 added the owner (<see cref="OwnerEpoch"/>, <see cref="OwnerId"/>) and the latest checkpoint's
/// manifest (<see cref="LatestManifest"/>); a version 1 file reads as epoch 0 with no owner and no manifest, and its
/// chain is claimed and rewritten in version 2 on a writer's first start.
/// </remarks>
public sealed record CheckpointStateFile
{
    /// <summary>The format version this SDK writes and the newest it reads: 2. Version 1 files are read as well.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>The largest state file or manifest a reader accepts: 16 MiB. A larger object is reported damaged rather than read.</summary>
    public const int MaxLength = 16 * 1024 * 1024;

    /// <summary>Gets the format version the state file was written in.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Gets the chain.</summary>
    public required string Chain { get; init; }

    /// <summary>Gets the id of the writer that replaced the state file last (a commit, a claim, or a maintenance tool such as <c>ckpt prune</c>).</summary>
    public required string WriterId { get; init; }

    /// <summary>
    /// Gets the owner epoch: one more at every claim of the chain, so a writer whose epoch is older has been replaced.
    /// 0 (the default) when no writer has claimed the chain yet (every version 1 file).
    /// </summary>
    public long OwnerEpoch { get; init; }

    /// <summary>Gets the id of the writer that holds <see cref="OwnerEpoch"/>, or <see langword="null"/> (the default) when the chain has no owner yet.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OwnerId { get; init; }

    /// <summary>Gets when it was replaced (UTC).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Gets the retained checkpoints, newest first; the first is the latest.</summary>
    public required IReadOnlyList<CheckpointReference> Checkpoints { get; init; }

    /// <summary>
    /// Gets a copy of the latest checkpoint's manifest, so a restore reads the state file and the parts and not the
    /// manifest object (which stays, for listing and rebuilding a lost state file). <see langword="null"/> (the
    /// default) when the chain retains no checkpoint, or when the writer did not have the manifest at hand.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CheckpointManifest? LatestManifest { get; init; }

    /// <summary>Gets the latest checkpoint, or <see langword="null"/> if none is retained.</summary>
    [JsonIgnore]
    public CheckpointReference? Latest => Checkpoints.Count > 0 ? Checkpoints[0] : null;

    /// <summary>Serialises the state file to UTF-8 JSON.</summary>
    /// <returns>The JSON bytes.</returns>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, CheckpointJsonContext.Default.CheckpointStateFile);

    /// <summary>Parses a state file and checks it is complete and consistent.</summary>
    /// <param name="utf8Json">The JSON bytes.</param>
    /// <param name="key">The key it was read from, for error messages.</param>
    /// <returns>The state file.</returns>
    /// <exception cref="CheckpointFormatVersionException">It, or the manifest it carries, was written in an unknown format version.</exception>
    /// <exception cref="CheckpointCorruptedException">It is not valid JSON, misses required fields, or carries a manifest that is not its latest checkpoint's.</exception>
    public static CheckpointStateFile Parse(ReadOnlySpan<byte> utf8Json, string key)
    {
        CheckpointStateFile? state = CheckpointJson.Deserialize(utf8Json, key, CheckpointJsonContext.Default.CheckpointStateFile);
        if (state is null)
        {
            throw new CheckpointCorruptedException(key, "the state file is empty (JSON null).");
        }

        CheckpointJson.CheckVersion(key, state.FormatVersion, CurrentFormatVersion);
        if (state.Checkpoints is null || string.IsNullOrEmpty(state.Chain))
        {
            throw new CheckpointCorruptedException(key, "the state file misses its chain or checkpoint list.");
        }

        foreach (CheckpointReference reference in state.Checkpoints)
        {
            if (reference is null || reference.Step < 0 || !StoreKey.IsValid(reference.ManifestKey))
            {
                throw new CheckpointCorruptedException(key, "the state file lists a checkpoint without a valid step or manifest key.");
            }
        }

        if (state.OwnerEpoch < 0 || (state.OwnerEpoch > 0 && string.IsNullOrEmpty(state.OwnerId)))
        {
            throw new CheckpointCorruptedException(key, $"the state file records owner epoch {state.OwnerEpoch} without a valid owner.");
        }

        if (state.LatestManifest is { } manifest)
        {
            CheckpointManifest.Check(manifest, key);
            if (state.Latest is not { } latest
                || !CheckpointKeyLayout.TryParseObjectKey(latest.ManifestKey, out CheckpointObjectKey? named)
                || !named.IsManifest
                || manifest.Step != latest.Step
                || !string.Equals(manifest.Chain, state.Chain, StringComparison.Ordinal)
                || !string.Equals(manifest.Chain, named.Chain, StringComparison.Ordinal)
                || !string.Equals(manifest.SaveId, named.SaveId, StringComparison.Ordinal))
            {
                throw new CheckpointCorruptedException(key, "the manifest the state file carries is not its latest checkpoint's.");
            }
        }

        return state;
    }
}

internal static class CheckpointJson
{
    public static T? Deserialize<T>(ReadOnlySpan<byte> utf8Json, string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(utf8Json, typeInfo);
        }
        catch (JsonException ex)
        {
            throw new CheckpointCorruptedException(key, $"it is not valid JSON of the expected shape ({ex.Message}).", ex);
        }
        catch (ArgumentException ex)
        {
            throw new CheckpointCorruptedException(key, $"it is not valid UTF-8 JSON ({ex.Message}).", ex);
        }
    }

    public static void CheckVersion(string key, int version, int newestKnown)
    {
        if (version < 1)
        {
            throw new CheckpointCorruptedException(key, $"format version {version} is invalid.");
        }

        if (version > newestKnown)
        {
            throw new CheckpointFormatVersionException(key, version, newestKnown);
        }
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    RespectRequiredConstructorParameters = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(CheckpointManifest))]
[JsonSerializable(typeof(CheckpointStateFile))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext
{
}
