using System.Globalization;

namespace InputPipeline.Checkpointing.Testing;

/// <summary>The operations of an <see cref="IInputStateStore"/>, as counted by <see cref="FaultInjectingInputStateStore"/>.</summary>
public enum StoreOperation
{
    /// <summary><see cref="IInputStateStore.WriteAsync"/>.</summary>
    Write,

    /// <summary><see cref="IInputStateStore.ReadAsync"/>.</summary>
    Read,

    /// <summary><see cref="IInputStateStore.ListAsync"/> (counted when the enumeration starts).</summary>
    List,

    /// <summary><see cref="IInputStateStore.DeleteAsync"/>.</summary>
    Delete,
}

/// <summary>What a <see cref="Fault"/> does to the call it hits.</summary>
public enum FaultKind
{
    /// <summary>The call fails with <see cref="CheckpointStoreException"/> and nothing is done.</summary>
    Fail,

    /// <summary>The call is performed on the inner store, then fails with <see cref="CheckpointStoreException"/>: a lost response.</summary>
    FailAfter,

    /// <summary>
    /// The call waits until its cancellation token is cancelled (then throws <see cref="OperationCanceledException"/>
    /// and does nothing) or until <see cref="FaultInjectingInputStateStore.ReleaseHangs"/> is called (then goes on normally).
    /// </summary>
    Hang,

    /// <summary>
    /// A write whose inner store receives only the first <see cref="Fault.CutShortBytes"/> bytes, after which reading
    /// the content throws and the write fails with <see cref="CheckpointStoreException"/>; the inner store must leave
    /// no object. Any other call fails as with <see cref="Fail"/>.
    /// </summary>
    CutShort,

    /// <summary>The call and every later call fail with <see cref="CheckpointStoreException"/> and do nothing, as if the process died at that call, until <see cref="FaultInjectingInputStateStore.Disarm"/>.</summary>
    Crash,
}

/// <summary>One call made to a <see cref="FaultInjectingInputStateStore"/>.</summary>
/// <param name="Number">The call's number, from 1 in the order the calls started.</param>
/// <param name="Operation">The operation.</param>
/// <param name="Key">The key, or the prefix for <see cref="StoreOperation.List"/>.</param>
/// <param name="Condition">
/// The condition of a write; for a delete, <see cref="WriteCondition.None"/> or <see cref="WriteCondition.IfVersionMatches"/>
/// with its <c>ifVersion</c>; <see langword="null"/> for reads and lists.
/// </param>
public sealed record StoreCall(int Number, StoreOperation Operation, string Key, WriteCondition? Condition)
{
    /// <summary>Gets the fault injected into this call, or <see langword="null"/> if it went through untouched.</summary>
    public FaultKind? Fault { get; init; }
}

/// <summary>
/// A fault to arm on a <see cref="FaultInjectingInputStateStore"/>: what it does (<see cref="Kind"/>) and which call it
/// hits (a call number, the next call matching a predicate, or simply the next call).
/// </summary>
/// <example>
/// <code>
/// store.Arm(Fault.FailAt(3));                                            // the 3rd call fails
/// store.Arm(Fault.Crash.When(c => c.Key.EndsWith("checkpoint_input")));  // the process "dies" at the commit
/// store.Arm(Fault.CutShort(100).When(c => c.Operation == StoreOperation.Write));
/// store.Arm(Fault.Hang);                                                 // the next call hangs
/// </code>
/// </example>
/// <remarks>
/// Every fault except <see cref="FaultKind.Crash"/> hits one call, then is disarmed, unless made
/// <see cref="Repeatedly"/>: then it hits every call it matches until <see cref="FaultInjectingInputStateStore.Disarm"/>.
/// </remarks>
public sealed class Fault
{
    private Fault(FaultKind kind, long cutShortBytes, int? callNumber, Func<StoreCall, bool>? predicate, bool repeats = false)
    {
        Kind = kind;
        CutShortBytes = cutShortBytes;
        CallNumber = callNumber;
        Predicate = predicate;
        Repeats = repeats;
    }

    /// <summary>Gets a <see cref="FaultKind.Fail"/> fault for the next call.</summary>
    public static Fault Fail { get; } = new(FaultKind.Fail, 0, null, null);

    /// <summary>Gets a <see cref="FaultKind.FailAfter"/> fault for the next call.</summary>
    public static Fault FailAfter { get; } = new(FaultKind.FailAfter, 0, null, null);

    /// <summary>Gets a <see cref="FaultKind.Hang"/> fault for the next call.</summary>
    public static Fault Hang { get; } = new(FaultKind.Hang, 0, null, null);

    /// <summary>Gets a <see cref="FaultKind.Crash"/> fault for the next call.</summary>
    public static Fault Crash { get; } = new(FaultKind.Crash, 0, null, null);

    /// <summary>Gets what the fault does.</summary>
    public FaultKind Kind { get; }

    /// <summary>Gets the number of bytes a <see cref="FaultKind.CutShort"/> write lets through; 0 for other kinds.</summary>
    public long CutShortBytes { get; }

    /// <summary>Gets the number of the call the fault hits, or <see langword="null"/> when it hits the next call (matching <see cref="Predicate"/>, if set).</summary>
    public int? CallNumber { get; }

    /// <summary>Gets the predicate a call must match to be hit, or <see langword="null"/>.</summary>
    public Func<StoreCall, bool>? Predicate { get; }

    /// <summary>Gets whether the fault stays armed after it fires (see <see cref="Repeatedly"/>). Default <see langword="false"/>.</summary>
    public bool Repeats { get; }

    /// <summary>Creates a <see cref="FaultKind.CutShort"/> fault for the next call.</summary>
    /// <param name="bytes">How many bytes of the content the inner store receives before the write fails; 0 or more.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative.</exception>
    public static Fault CutShort(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        return new Fault(FaultKind.CutShort, bytes, null, null);
    }

    /// <summary>Creates a <see cref="FaultKind.Fail"/> fault for call number <paramref name="callNumber"/>.</summary>
    /// <param name="callNumber">The call to hit, from 1.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="callNumber"/> is less than 1.</exception>
    public static Fault FailAt(int callNumber) => Fail.AtCall(callNumber);

    /// <summary>Creates a <see cref="FaultKind.FailAfter"/> fault for call number <paramref name="callNumber"/>.</summary>
    /// <param name="callNumber">The call to hit, from 1.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="callNumber"/> is less than 1.</exception>
    public static Fault FailAfterAt(int callNumber) => FailAfter.AtCall(callNumber);

    /// <summary>Creates a <see cref="FaultKind.Hang"/> fault for call number <paramref name="callNumber"/>.</summary>
    /// <param name="callNumber">The call to hit, from 1.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="callNumber"/> is less than 1.</exception>
    public static Fault HangAt(int callNumber) => Hang.AtCall(callNumber);

    /// <summary>Creates a <see cref="FaultKind.CutShort"/> fault for call number <paramref name="callNumber"/>.</summary>
    /// <param name="callNumber">The call to hit, from 1.</param>
    /// <param name="bytes">How many bytes of the content the inner store receives before the write fails; 0 or more.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="callNumber"/> is less than 1 or <paramref name="bytes"/> is negative.</exception>
    public static Fault CutShortAt(int callNumber, long bytes) => CutShort(bytes).AtCall(callNumber);

    /// <summary>Creates a <see cref="FaultKind.Crash"/> fault for call number <paramref name="callNumber"/>: that call and every later one fail.</summary>
    /// <param name="callNumber">The call to hit, from 1.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="callNumber"/> is less than 1.</exception>
    public static Fault CrashAt(int callNumber) => Crash.AtCall(callNumber);

    /// <summary>Returns the same fault, hitting call number <paramref name="callNumber"/> (and no other).</summary>
    /// <param name="callNumber">The call to hit, from 1. A number already passed never fires.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="callNumber"/> is less than 1.</exception>
    public Fault AtCall(int callNumber)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(callNumber, 1);
        return new Fault(Kind, CutShortBytes, callNumber, Predicate, Repeats);
    }

    /// <summary>Returns the same fault, hitting the next call that matches <paramref name="predicate"/>.</summary>
    /// <param name="predicate">Decides on a call's number, operation, key and condition; it runs under the store's lock, so keep it quick and pure.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    public Fault When(Func<StoreCall, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new Fault(Kind, CutShortBytes, CallNumber, predicate, Repeats);
    }

    /// <summary>
    /// Returns the same fault, hitting every call it matches instead of only the first, until
    /// <see cref="FaultInjectingInputStateStore.Disarm"/>: for example a store that refuses every write from some
    /// point on, as a full disk does, while reads and lists still work.
    /// </summary>
    /// <returns>The fault.</returns>
    /// <example><code>store.Arm(Fault.Fail.When(c =&gt; c.Operation == StoreOperation.Write).Repeatedly());</code></example>
    public Fault Repeatedly() => new(Kind, CutShortBytes, CallNumber, Predicate, repeats: true);

    /// <summary>Returns whether the fault hits <paramref name="call"/>.</summary>
    /// <param name="call">The call, not yet given a fault.</param>
    /// <returns><see langword="true"/> if it matches the call number and the predicate, where set.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="call"/> is null.</exception>
    public bool Matches(StoreCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return (CallNumber is null || CallNumber == call.Number) && (Predicate is null || Predicate(call));
    }

    /// <summary>Returns a readable form, for example <c>CutShort(100) at call 3</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        string what = Kind == FaultKind.CutShort ? string.Create(CultureInfo.InvariantCulture, $"CutShort({CutShortBytes})") : Kind.ToString();
        string where = (CallNumber, Predicate) switch
        {
            (int n, null) => string.Create(CultureInfo.InvariantCulture, $"at call {n}"),
            (int n, _) => string.Create(CultureInfo.InvariantCulture, $"at call {n} if it matches"),
            (null, null) => Repeats ? "at every call" : "at the next call",
            (null, _) => Repeats ? "at every matching call" : "at the next matching call",
        };
        return $"{what} {where}";
    }
}
