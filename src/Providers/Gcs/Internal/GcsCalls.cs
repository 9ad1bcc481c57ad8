using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace InputPipeline.Checkpointing.Gcs.Internal;

/// <summary>
/// The retry policy of the store's calls, and the translation of their failures: transient failures are retried with
/// exponential backoff and jitter (Polly) when the call is safe to repeat, each attempt bounded by
/// <see cref="GcsStoreOptions.AttemptTimeout"/>; a failure of the service or of the network that remains becomes a
/// <see cref="CheckpointStoreException"/> naming the operation, the attempts and the cause.
/// </summary>
internal sealed class GcsCalls
{
    private static readonly ResiliencePropertyKey<bool> IdempotentKey = new("InputPipeline.Checkpointing.Gcs.Idempotent");

    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;
    private readonly Func<Uri> _endpoint;
    private readonly Func<string?, string, Exception?, CheckpointStoreException> _bucketMissing;

    public GcsCalls(GcsStoreOptions options, ILogger logger, Func<Uri> endpoint, Func<string?, string, Exception?, CheckpointStoreException> bucketMissing)
    {
        _logger = logger;
        _endpoint = endpoint;
        _bucketMissing = bucketMissing;
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && GcsErrors.IsTransient(ex, args.Context.Properties.GetValue(IdempotentKey, false))),
                OnRetry = args =>
                {
                    GcsLog.Retrying(_logger, args.Context.OperationKey ?? "a request", args.AttemptNumber + 1, options.MaxRetryAttempts, args.RetryDelay, GcsErrors.Describe(args.Outcome.Exception!));
                    return default;
                },
            });
        }

        _pipeline = builder.AddTimeout(options.AttemptTimeout).Build();
    }

    /// <summary>
    /// Runs <paramref name="call"/> (given its attempt number, from 1) under the retry policy; turns a failure of the
    /// service or of the network into <see cref="CheckpointStoreException"/> (other exceptions pass through).
    /// </summary>
    public async Task<T> RunAsync<T>(string operation, string? key, bool idempotent, Func<int, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get(operation, cancellationToken);
        context.Properties.Set(IdempotentKey, idempotent);
        int attempts = 0;
        try
        {
            return await _pipeline.ExecuteAsync(async ctx => await call(++attempts, ctx.CancellationToken).ConfigureAwait(false), context).ConfigureAwait(false);
        }
        catch (Exception ex) when (GcsErrors.IsStoreFailure(ex, cancellationToken))
        {
            throw Failure(operation, key, ex, attempts);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Returns the exception a failed call ends with: a missing bucket named as such, else the operation, attempts and cause.</summary>
    public CheckpointStoreException Failure(string operation, string? key, Exception exception, int attempts)
    {
        if (GcsErrors.IsBucketNotFound(exception))
        {
            return _bucketMissing(key, operation, exception);
        }

        string after = attempts > 1 ? string.Create(CultureInfo.InvariantCulture, $" after {attempts} attempts") : string.Empty;
        if (attempts > 1)
        {
            GcsLog.RetriesExhausted(_logger, operation, key, attempts, GcsErrors.Describe(exception));
        }

        string cause = exception is GoogleApiException ? GcsErrors.Describe(exception) : $"{_endpoint()} could not be reached: {GcsErrors.Describe(exception)}";
        string hint = GcsErrors.Is(exception, HttpStatusCode.Unauthorized) || GcsErrors.Is(exception, HttpStatusCode.Forbidden)
            ? " Check the credentials (CredentialsFile or application default credentials) and their roles on the bucket (for example roles/storage.objectAdmin)."
            : string.Empty;
        return new CheckpointStoreException(GcsInputStateStore.GcsProviderName, key, $"{operation} failed{after}: {cause}{hint}", exception);
    }
}
