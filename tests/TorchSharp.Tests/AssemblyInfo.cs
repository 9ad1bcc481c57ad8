using System.Runtime.CompilerServices;
using TorchSharp;

// torch's random generator and thread count are process-wide: these tests must not run at the same time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace InputPipeline.Checkpointing.TorchSharp.Tests;

internal static class TorchThreads
{
    /// <summary>
    /// One intra-op thread for the whole test process, set before any torch operation: libtorch applies the count to
    /// each thread at that thread's first operation, so a thread that ran one earlier would keep the default count, and
    /// an async test that resumes on it would compute with another summation order.
    /// </summary>
    [ModuleInitializer]
    internal static void UseOne() => torch.set_num_threads(1);
}
