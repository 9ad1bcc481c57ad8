using InputPipeline.Checkpointing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Extensions of <see cref="IInputPipelineCheckpointingBuilder"/> that provider packages build on.</summary>
public static class InputPipelineCheckpointingBuilderExtensions
{
    /// <summary>
    /// Registers a store provider under <paramref name="providerName"/>; <c>InputPipelineCheckpointing:Provider</c>
    /// selects among the registered ones. Provider packages call this from their own <c>Add…Store()</c>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="providerName">The provider name, compared case-insensitively.</param>
    /// <param name="factory">Creates the store; called once, when the store is first resolved.</param>
    /// <param name="validate">
    /// The provider's option validation, run on start only when <paramref name="providerName"/> is selected (see
    /// <see cref="InputStateStoreRegistration.ValidateOptions{TOptions}"/>); <see langword="null"/> (the default) for none.
    /// </param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="factory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="providerName"/> is null or empty.</exception>
    public static IInputPipelineCheckpointingBuilder AddStore(this IInputPipelineCheckpointingBuilder builder, string providerName, Func<IServiceProvider, IInputStateStore> factory, Func<IServiceProvider, IEnumerable<string>>? validate = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var registration = new InputStateStoreRegistration(providerName, factory, validate);
        // A second registration of the same provider replaces the first (so calling Add…Store() twice is safe).
        ServiceDescriptor? existing = builder.Services.FirstOrDefault(d =>
            d.ServiceType == typeof(InputStateStoreRegistration)
            && d.ImplementationInstance is InputStateStoreRegistration r
            && string.Equals(r.ProviderName, providerName, StringComparison.OrdinalIgnoreCase));
        if (existing is not null)
        {
            builder.Services.Remove(existing);
        }

        builder.Services.AddSingleton(registration);
        return builder;
    }
}
