using Azure.Core;
using Azure.Core.Pipeline;
using Google.Apis.Http;

namespace InputPipeline.Checkpointing.Benchmarks;

/// <summary>Counts the HTTP requests (every attempt) a client sends, for the request-count rows of goals 1 and 2.</summary>
public sealed class RequestCounter
{
    private int _count;

    /// <summary>Gets the number of requests counted since the last <see cref="Reset"/>.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Counts one request.</summary>
    public void Increment() => Interlocked.Increment(ref _count);

    /// <summary>Starts counting from zero.</summary>
    public void Reset() => Interlocked.Exchange(ref _count, 0);

    /// <summary>Returns a handler that counts every request it passes on to <paramref name="inner"/>.</summary>
    public HttpMessageHandler Handler(HttpMessageHandler inner) => new CountingHandler(this) { InnerHandler = inner };

    /// <summary>Returns an Azure pipeline policy that counts every attempt.</summary>
    public HttpPipelinePolicy AzurePolicy() => new CountingPolicy(this);

    /// <summary>Returns an AWS SDK HTTP client factory whose clients count their requests.</summary>
    public Amazon.Runtime.HttpClientFactory AwsFactory() => new CountingAwsFactory(this);

    /// <summary>Returns a Google API HTTP client factory whose clients count their requests.</summary>
    public Google.Apis.Http.HttpClientFactory GoogleFactory() => new CountingGoogleFactory(this);

    private sealed class CountingHandler(RequestCounter counter) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            counter.Increment();
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class CountingPolicy(RequestCounter counter) : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message) => counter.Increment();
    }

    private sealed class CountingAwsFactory(RequestCounter counter) : Amazon.Runtime.HttpClientFactory
    {
        public override HttpClient CreateHttpClient(Amazon.Runtime.IClientConfig clientConfig) =>
            new(counter.Handler(new SocketsHttpHandler { AllowAutoRedirect = false }));
    }

    private sealed class CountingGoogleFactory(RequestCounter counter) : Google.Apis.Http.HttpClientFactory
    {
        protected override HttpMessageHandler CreateHandler(CreateHttpClientArgs args) => counter.Handler(base.CreateHandler(args));
    }
}
