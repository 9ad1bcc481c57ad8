using System.Text.Json.Serialization;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>The output of <c>ckpt list --json</c>.</summary>
internal sealed record ListJson(string Store, string Provider, IReadOnlyList<ChainJson> Chains);

/// <summary>One chain in <c>ckpt list --json</c>.</summary>
internal sealed record ChainJson(
    string Name,
    string StateFile,
    string StateFileStatus,
    string? StateFileProblem,
    IReadOnlyList<CheckpointJson> Checkpoints);

/// <summary>One retained checkpoint in <c>ckpt list --json</c>; sizes are in bytes, times UTC ISO 8601.</summary>
internal sealed record CheckpointJson(
    long Step,
    DateTimeOffset CreatedAt,
    bool Latest,
    string Manifest,
    long? Size,
    int? Parts,
    string? Writer,
    string? Damaged);

/// <summary>The output of <c>ckpt show --json</c>.</summary>
internal sealed record ShowJson(string Store, string Provider, IReadOnlyList<ShowCheckpointJson> Checkpoints);

/// <summary>One checkpoint with its manifest in <c>ckpt show --json</c>.</summary>
internal sealed record ShowCheckpointJson(
    string Chain,
    string StateFile,
    long Step,
    bool Latest,
    string Manifest,
    int FormatVersion,
    DateTimeOffset CreatedAt,
    string WriterId,
    string SaveId,
    long TotalLength,
    IReadOnlyList<PartJson> Parts);

/// <summary>One part in <c>ckpt show --json</c>.</summary>
internal sealed record PartJson(string Name, string Key, long Length, string Checksum);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ListJson))]
[JsonSerializable(typeof(ShowJson))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
}
