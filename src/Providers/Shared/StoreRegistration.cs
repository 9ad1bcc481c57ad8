// Shared source: compiled into each provider package (linked from its .csproj).
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.Providers.Internal;

/// <summary>
/// What every provider's <c>Add…Store()</c> does: binds its options from the subsection named after the provider
/// (once, however often it is called), applies a further <c>configure</c>, adds its validator (run on start only when
/// the provider is selected) and registers the store's factory under the provider's name.
/// </summary>
internal static class StoreRegistration
{
    /// <summary>Registers a provider; <paramref name="bind"/> binds the options from the section (with the provider's own, source-generated binder).</summary>
    public static IInputPipelineCheckpointingBuilder Add<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TValidator>(
        IInputPipelineCheckpointingBuilder builder,
        string providerName,
        Action<OptionsBuilder<TOptions>, IConfiguration> bind,
        Action<TOptions>? configure,
        Func<IServiceProvider, TOptions, IInputStateStore> create)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        OptionsBuilder<TOptions> options = services.AddOptions<TOptions>();
        if (builder.Configuration is { } configuration && !services.Any(d => d.ServiceType == typeof(Bound<TOptions>)))
        {
            bind(options, configuration.GetSection(providerName));
            services.AddSingleton(new Bound<TOptions>());
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        return builder.AddStore(
            providerName,
            sp => create(sp, sp.GetRequiredService<IOptions<TOptions>>().Value),
            InputStateStoreRegistration.ValidateOptions<TOptions>());
    }

    /// <summary>Marks that the configuration was bound once, so a second call does not bind it twice.</summary>
    private sealed class Bound<T>;
}
