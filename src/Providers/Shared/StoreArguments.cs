// Shared source: compiled into each provider package (linked from Shared.props), so that no provider depends on another.
namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// The argument checks every store makes before it talks to its storage, with the exceptions
/// <see cref="IInputStateStore"/> documents: <see cref="ArgumentNullException"/> for a null argument,
/// <see cref="ArgumentException"/> for an invalid key, an unreadable stream or a condition without a version, and
/// <see cref="ArgumentOutOfRangeException"/> for a negative offset. Each method also throws
/// <see cref="OperationCanceledException"/> when the token is already cancelled, so a store does no work for a caller
/// who has given up.
/// </summary>
internal static class StoreArguments
{
    /// <summary>Checks the arguments of <see cref="IInputStateStore.WriteAsync"/>.</summary>
    public static void CheckWrite(string key, Stream content, WriteCondition condition, CancellationToken cancellationToken)
    {
        StoreKey.Validate(key, nameof(key));
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanRead)
        {
            throw new ArgumentException("The content stream is not readable.", nameof(content));
        }

        if (condition.Kind == WriteConditionKind.IfVersionMatches && string.IsNullOrEmpty(condition.Version?.Value))
        {
            throw new ArgumentException($"The write condition {condition} is not valid: a compare-and-swap needs a version.", nameof(condition));
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Checks the arguments of <see cref="IInputStateStore.ReadAsync"/>.</summary>
    public static void CheckRead(string key, long offset, CancellationToken cancellationToken)
    {
        StoreKey.Validate(key, nameof(key));
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Checks the arguments of <see cref="IInputStateStore.DeleteAsync"/>.</summary>
    public static void CheckDelete(string key, StoreVersion? ifVersion, CancellationToken cancellationToken)
    {
        StoreKey.Validate(key, nameof(key));
        if (ifVersion is { } required && string.IsNullOrEmpty(required.Value))
        {
            throw new ArgumentException("The version is empty.", nameof(ifVersion));
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Checks the argument of <see cref="IInputStateStore.ListAsync"/> and returns it; the listing itself checks the token.</summary>
    public static string CheckList(string prefix) => prefix ?? throw new ArgumentNullException(nameof(prefix));
}
