using System.Diagnostics.Metrics;
using InputPipeline.Checkpointing;
using InputPipeline.Checkpointing.TorchSharp;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the TorchSharp training-state checkpointing with InputPipeline.Checkpointing.</summary>
public static class TorchSharpCheckpointingBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="TorchCheckpointingFactory"/> (singleton), which creates a <see cref="TorchCheckpointing"/> per
    /// training run over the registered <see cref="IInputStateStore"/> with the <c>InputPipelineCheckpointing</c> options,
    /// the registered logger factory, clock and meter factory. Calling it again is safe.
    /// </summary>
    /// <param name="builder">The builder <c>AddInputPipelineCheckpointing</c> returned.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IInputPipelineCheckpointingBuilder AddTorchSharpCheckpointing(this IInputPipelineCheckpointingBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(sp => new TorchCheckpointingFactory(
            sp.GetRequiredService<IInputStateStore>(),
            sp.GetRequiredService<IOptions<InputPipelineCheckpointingOptions>>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<IMeterFactory>()));
        return builder;
    }
}
