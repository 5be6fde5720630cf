using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Mesh.Client.Diagnostics;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// The first attempt's continuation (<c>FirstAttempt</c>): it runs in the caller's execution context wherever the inner
/// handler completes, and its pooled state never mixes requests.
/// </summary>
public sealed class FirstAttemptTests
{
    private const string Service = "catalog";

    [Fact]
    public async Task An_attempt_completed_on_a_thread_without_the_callers_context_continues_in_the_callers_context()
    {
        using var source = new ActivitySource("Mesh.Client.Tests.FirstAttempt." + Guid.NewGuid().ToString("N"));
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        // The first attempt answers 503 from a pool thread that does not carry the caller's context (as an HTTP/2
        // connection's reader completes its streams); the retry that follows is recorded on the caller's span only if
        // the continuation restored the caller's context.
        var inner = new ForeignContextHandler(firstStatus: HttpStatusCode.ServiceUnavailable);
        using var provider = Build(inner);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("first");

        using var span = source.StartActivity("call", ActivityKind.Client);
        Assert.NotNull(span);
        using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, inner.Attempts);
        var retry = Assert.Single(span.Events);
        Assert.Equal(MeshTracing.RetryEvent, retry.Name);
        Assert.Equal(2, span.GetTagItem(MeshTracing.AttemptTag));
    }

    [Fact]
    public async Task Concurrent_requests_completed_on_other_threads_each_get_their_own_response_and_their_logical_uri_back()
    {
        var inner = new ForeignContextHandler(firstStatus: HttpStatusCode.OK);
        using var provider = Build(inner);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("first");

        var requests = Enumerable.Range(0, 400).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/items/{i}", UriKind.Relative));
            using var response = await client.SendAsync(request);
            return (i, request.RequestUri, Echo: response.Headers.GetValues("x-path").Single(), response.RequestMessage);
        });
        var results = await Task.WhenAll(requests);

        Assert.All(results, r =>
        {
            Assert.Equal($"/items/{r.i}", r.Echo);
            Assert.Equal(new Uri($"http://{Service}/items/{r.i}"), r.RequestUri);
        });
        Assert.Equal(400, results.Select(r => r.RequestMessage).Distinct().Count());
    }

    private static ServiceProvider Build(HttpMessageHandler inner)
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints(Service, "http://127.0.0.1:9001", "http://127.0.0.1:9002");
        services.AddHttpClient("first", c => c.BaseAddress = new Uri($"http://{Service}"))
            .AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin)
            .ConfigurePrimaryHttpMessageHandler(() => inner)
            .RemoveAllLoggers(); // its async handler would complete the mesh's inner task in the caller's context
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// Completes every attempt from a thread-pool work item queued without the sender's execution context, with the
    /// continuations run inline there; the first attempt gets <c>firstStatus</c>, later ones 200. Each response echoes
    /// the request's path.
    /// </summary>
    private sealed class ForeignContextHandler(HttpStatusCode firstStatus) : HttpMessageHandler
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var status = Interlocked.Increment(ref _attempts) == 1 ? firstStatus : HttpStatusCode.OK;
            var response = new HttpResponseMessage(status) { RequestMessage = request };
            response.Headers.Add("x-path", request.RequestUri!.AbsolutePath);
            var completion = new TaskCompletionSource<HttpResponseMessage>();
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Completion.SetResult(s.Response), (Completion: completion, Response: response), preferLocal: false);
            return completion.Task;
        }
    }
}
