using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing;

/// <summary>
/// Validates <see cref="InputPipelineCheckpointingOptions"/> on start: the cadence (exactly one of SaveSteps/SaveSecs,
/// positive), retention, worker identity, ownership, and that the provider is registered. Messages name the configuration key.
/// </summary>
public sealed class InputPipelineCheckpointingOptionsValidator : IValidateOptions<InputPipelineCheckpointingOptions>
{
    private readonly IEnumerable<InputStateStoreRegistration> _registrations;
    private readonly IServiceProvider _services;

    /// <summary>Creates the validator.</summary>
    /// <param name="registrations">The registered providers.</param>
    /// <param name="services">The services the selected provider's validation resolves its options from.</param>
    public InputPipelineCheckpointingOptionsValidator(IEnumerable<InputStateStoreRegistration> registrations, IServiceProvider services)
    {
        _registrations = registrations;
        _services = services;
    }

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, InputPipelineCheckpointingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        try
        {
            options.ToHookOptions().Validate();
        }
        catch (CheckpointOptionsException ex)
        {
            failures.Add($"{InputPipelineCheckpointingOptions.SectionName}:{ex.Message}");
        }

        if (!string.IsNullOrEmpty(options.Store))
        {
            if (!StoreUri.TryParse(options.Store, out StoreUri? uri, out string? error))
            {
                failures.Add($"{InputPipelineCheckpointingOptions.SectionName}:Store: {error}");
            }
            else if (!string.Equals(uri.ProviderName, options.Provider, StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{InputPipelineCheckpointingOptions.SectionName}:Store: \"{options.Store}\" names the {uri.ProviderName} provider but Provider is \"{options.Provider}\"; set one of them.");
            }
        }

        string[] registered = [.. _registrations.Select(r => r.ProviderName).Distinct(StringComparer.OrdinalIgnoreCase)];
        if (string.IsNullOrWhiteSpace(options.Provider))
        {
            failures.Add($"{InputPipelineCheckpointingOptions.SectionName}:Provider: no provider is set; registered providers: {string.Join(", ", registered)}.");
        }
        else if (!registered.Contains(options.Provider, StringComparer.OrdinalIgnoreCase))
        {
            failures.Add($"{InputPipelineCheckpointingOptions.SectionName}:Provider: \"{options.Provider}\" is not a registered provider; registered providers: {string.Join(", ", registered)}. Add its package and call its Add…Store() on the builder AddInputPipelineCheckpointing returns.");
        }
        else
        {
            // Only the selected provider's options must be complete.
            InputStateStoreRegistration chosen = _registrations.Last(r => string.Equals(r.ProviderName, options.Provider, StringComparison.OrdinalIgnoreCase));
            failures.AddRange(chosen.Validate(_services));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
