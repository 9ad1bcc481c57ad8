using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>Helpers of the fast path (<see cref="Node{T}.ReadAvailable"/>).</summary>
internal static class FastPath
{
    /// <summary>The most an operator reads from its input into a buffer of its own at once.</summary>
    public const int MaxChunk = 1024;

    /// <summary>Throws, once, what a user function threw in the fast path.</summary>
    public static void ThrowPending(ref ExceptionDispatchInfo? failure)
    {
        if (failure is { } pending)
        {
            failure = null;
            pending.Throw();
        }
    }

    /// <summary>Lets go of the elements a buffer holds, so it does not keep them alive.</summary>
    public static void Clear<T>(T[] buffer, int count)
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(buffer, 0, count);
        }
    }
}
