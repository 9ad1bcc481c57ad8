using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace GcsEmulator.Storage;

internal enum PreconditionOutcome
{
    Satisfied,
    Failed,
    NotModified,
}

/// <summary>The ifGenerationMatch / ifGenerationNotMatch / ifMetagenerationMatch / ifMetagenerationNotMatch query parameters.</summary>
internal readonly record struct Preconditions(
    long? IfGenerationMatch,
    long? IfGenerationNotMatch,
    long? IfMetagenerationMatch,
    long? IfMetagenerationNotMatch)
{
    public bool IsEmpty => IfGenerationMatch is null && IfGenerationNotMatch is null
        && IfMetagenerationMatch is null && IfMetagenerationNotMatch is null;

    /// <summary>
    /// Parses the four conditions; <paramref name="prefix"/> is "if" for the target object and
    /// "ifSource" for the source of a copy or rewrite.
    /// </summary>
    public static bool TryParse(IQueryCollection query, out Preconditions preconditions, out string? error, string prefix = "if")
    {
        preconditions = default;
        if (!TryParseInt64(query, prefix + "GenerationMatch", out var generationMatch, out error)
            || !TryParseInt64(query, prefix + "GenerationNotMatch", out var generationNotMatch, out error)
            || !TryParseInt64(query, prefix + "MetagenerationMatch", out var metagenerationMatch, out error)
            || !TryParseInt64(query, prefix + "MetagenerationNotMatch", out var metagenerationNotMatch, out error))
        {
            return false;
        }
        preconditions = new Preconditions(generationMatch, generationNotMatch, metagenerationMatch, metagenerationNotMatch);
        return true;
    }

    /// <summary>Parses an optional int64 query parameter; false (with a message) when present but malformed.</summary>
    public static bool TryParseInt64(IQueryCollection query, string name, out long? value, out string? error)
    {
        value = null;
        error = null;
        if (!query.TryGetValue(name, out var raw) || raw.Count == 0 || string.IsNullOrEmpty(raw[0]))
        {
            return true;
        }
        if (long.TryParse(raw[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
            return true;
        }
        error = $"Invalid value for {name}: {raw[0]}";
        return false;
    }

    /// <summary>
    /// Preconditions of a write (upload, compose target): <paramref name="current"/> is the live
    /// object or null. ifGenerationMatch=0 means "no live object"; the other conditions fail when
    /// there is no live object.
    /// </summary>
    public bool AllowsWrite(StoredObject? current)
    {
        if (IfGenerationMatch is { } generationMatch)
        {
            var ok = generationMatch == 0 ? current is null : current?.Generation == generationMatch;
            if (!ok)
            {
                return false;
            }
        }
        if (IfGenerationNotMatch is { } generationNotMatch)
        {
            if (current is null || current.Generation == generationNotMatch)
            {
                return false;
            }
        }
        if (IfMetagenerationMatch is { } metagenerationMatch && current?.Metageneration != metagenerationMatch)
        {
            return false;
        }
        if (IfMetagenerationNotMatch is { } metagenerationNotMatch
            && (current is null || current.Metageneration == metagenerationNotMatch))
        {
            return false;
        }
        return true;
    }

    /// <summary>
    /// Preconditions of an operation on an existing object. For reads (<paramref name="isRead"/>),
    /// a failing ifGenerationNotMatch / ifMetagenerationNotMatch means 304 Not Modified.
    /// </summary>
    public PreconditionOutcome Evaluate(StoredObject current, bool isRead)
    {
        if (IfGenerationMatch is { } generationMatch && current.Generation != generationMatch)
        {
            return PreconditionOutcome.Failed;
        }
        if (IfMetagenerationMatch is { } metagenerationMatch && current.Metageneration != metagenerationMatch)
        {
            return PreconditionOutcome.Failed;
        }
        if (IfGenerationNotMatch is { } generationNotMatch && current.Generation == generationNotMatch)
        {
            return isRead ? PreconditionOutcome.NotModified : PreconditionOutcome.Failed;
        }
        if (IfMetagenerationNotMatch is { } metagenerationNotMatch && current.Metageneration == metagenerationNotMatch)
        {
            return isRead ? PreconditionOutcome.NotModified : PreconditionOutcome.Failed;
        }
        return PreconditionOutcome.Satisfied;
    }
}
