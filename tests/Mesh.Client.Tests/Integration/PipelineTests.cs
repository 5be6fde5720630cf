using System.Net;
using System.Net.Http.Json;
using System.Text;
using Mesh.Client.Balancing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Integration;

/// <summary>The request path end to end: an HttpClient from IHttpClientFactory, the mesh handler, three real Kestrel backends.</summary>
public sealed class PipelineTests : BackendFleetTests
{
    private ServiceProvider RoundRobinOverStatic() =>
        MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", Addresses), handler: o => o.Balancer = BalancerNames.RoundRobin);

    [Fact]
    public async Task Round_robin_spreads_requests_evenly_over_three_backends()
    {
        using var provider = RoundRobinOverStatic();
        var client = provider.Client();

        for (int i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.All(Backends, b => Assert.Equal(10, b.Count));
    }

    [Fact]
    public async Task Path_query_and_headers_arrive_unchanged_and_the_request_uri_is_restored()
    {
        using var provider = RoundRobinOverStatic();
        var client = provider.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/items/a%2Fb/42?q=caf%C3%A9&page=2");
        request.Headers.Add("X-Trace", "abc");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "token-1");

        using var response = await client.SendAsync(request);

        var received = Assert.Single(Backends.SelectMany(b => b.Received));
        Assert.Equal("/items/a%2Fb/42?q=caf%C3%A9&page=2", received.PathAndQuery);
        Assert.Equal("abc", received.Headers["X-Trace"]);
        Assert.Equal("Bearer token-1", received.Headers["Authorization"]);
        Assert.Equal(new Uri("http://catalog/items/a%2Fb/42?q=caf%C3%A9&page=2"), request.RequestUri);
        Assert.Same(request, response.RequestMessage);
    }

    [Fact]
    public async Task A_post_body_arrives_intact()
    {
        using var provider = RoundRobinOverStatic();
        var client = provider.Client();
        var payload = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31)).ToArray();

        using var response = await client.PostAsync(new Uri("/upload", UriKind.Relative), new ByteArrayContent(payload));
        using var json = await client.PostAsJsonAsync(new Uri("/json", UriKind.Relative), new { name = "héllo", n = 3 });

        var received = Backends.SelectMany(b => b.Received).ToList();
        Assert.Equal(payload, received.Single(r => r.PathAndQuery == "/upload").Body);
        Assert.Equal("POST", received.Single(r => r.PathAndQuery == "/upload").Method);
        Assert.Equal("{\"name\":\"h\\u00E9llo\",\"n\":3}", Encoding.UTF8.GetString(received.Single(r => r.PathAndQuery == "/json").Body));
    }

    [Fact]
    public async Task Many_parallel_requests_all_succeed_and_all_backends_serve()
    {
        using var provider = RoundRobinOverStatic();
        var client = provider.Client();

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
        {
            using var response = await client.GetAsync(new Uri($"/p/{i}", UriKind.Relative));
            return response.StatusCode;
        }));

        Assert.All(responses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(300, Backends.Sum(b => b.Count));
        Assert.All(Backends, b => Assert.Equal(100, b.Count));
    }

    [Fact]
    public async Task A_configuration_change_adds_and_removes_endpoints_while_traffic_runs_without_a_failed_request()
    {
        var source = new MutableConfigurationSource(Config(Backends[0], Backends[1]));
        var configuration = new ConfigurationBuilder().Add(source).Build();
        using var provider = MeshTestHost.Build(configuration: configuration, handler: o => o.Balancer = BalancerNames.RoundRobin);
        var client = provider.Client();
        using var stop = new CancellationTokenSource();
        int failures = 0, sent = 0;

        async Task TrafficAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync(new Uri("/live", UriKind.Relative));
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref sent);
            }
        }

        var traffic = Enumerable.Range(0, 4).Select(_ => Task.Run(TrafficAsync)).ToArray();
        await WaitUntilAsync(() => Backends[0].Count > 0 && Backends[1].Count > 0);

        source.Replace(Config(Backends[0], Backends[1], Backends[2])); // add b2
        await WaitUntilAsync(() => Backends[2].Count > 5);

        source.Replace(Config(Backends[1], Backends[2])); // remove b0
        int b0AfterRemoval = Backends[0].Count;
        int b1Before = Backends[1].Count;
        await WaitUntilAsync(() => Backends[1].Count > b1Before + 20);
        await stop.CancelAsync();
        await Task.WhenAll(traffic);

        Assert.Equal(0, failures);
        Assert.True(sent > 30);
        // Requests already past the pick when b0 was removed may still land on it; none start after.
        Assert.InRange(Backends[0].Count - b0AfterRemoval, 0, 4);
    }

    [Fact]
    public async Task An_unknown_service_fails_at_once_naming_the_service_and_the_resolvers_asked()
    {
        using var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", Addresses), baseAddress: "http://catalgo");
        var client = provider.Client();

        var error = await Assert.ThrowsAsync<UnknownServiceException>(() => client.GetAsync(new Uri("/x", UriKind.Relative)));

        Assert.Equal("catalgo", error.ServiceName);
        Assert.Equal(["configuration", "static"], error.ResolversAsked);
        Assert.Contains("'catalgo'", error.Message, StringComparison.Ordinal);
        Assert.All(Backends, b => Assert.Equal(0, b.Count));
    }

    [Fact]
    public async Task Pass_through_sends_unknown_hosts_unchanged()
    {
        var services = new ServiceCollection();
        services.AddMeshClient(o => o.PassThroughUnknownHosts = true);
        services.AddHttpClient("test").AddMeshHandler();
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("test");

        using var response = await client.GetAsync(new Uri($"{Backends[1].Address}/direct"));

        Assert.Equal("b1", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_empty_endpoint_set_fails_fast_with_no_endpoints()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Services:catalog:https:0"] = "10.0.0.1:443", // known, but nothing for scheme http
        }).Build();
        // A clock that never moves: any wait (for endpoints, a backoff) would never end, so completing proves no wait.
        using var provider = MeshTestHost.Build(configuration: configuration, timeProvider: new FakeTimeProvider());

        var request = provider.Client().GetAsync(new Uri("/x", UriKind.Relative));
        var error = await Assert.ThrowsAsync<NoEndpointsException>(() => request.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("catalog", error.ServiceName);
        Assert.Equal("configuration", error.Resolver);
    }

    [Fact]
    public async Task The_first_request_waits_for_the_first_resolution_and_fails_after_the_timeout()
    {
        var clock = new FakeTimeProvider();
        using var provider = MeshTestHost.Build(m => m.AddResolver<SilentResolver>(), timeProvider: clock,
            handler: o => o.ResolutionTimeout = TimeSpan.FromSeconds(2), baseAddress: "http://silent");

        var request = provider.Client().GetAsync(new Uri("/x", UriKind.Relative));
        Assert.False(request.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));

        var error = await Assert.ThrowsAsync<ResolutionTimeoutException>(() => request.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("silent", error.ServiceName);
        Assert.Equal("silent-resolver", error.Resolver);
        Assert.Contains("within 2 s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_header_is_the_endpoint_authority_by_default_and_the_logical_name_on_request()
    {
        using (var provider = RoundRobinOverStatic())
        {
            await provider.Client().GetAsync(new Uri("/h", UriKind.Relative));
        }

        var first = Assert.Single(Backends.SelectMany(b => b.Received));
        var backend = Backends.Single(b => b.Count == 1);
        Assert.Equal(backend.Authority, first.Host);

        using (var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", Addresses),
            handler: o => o.HostHeader = HostHeaderPolicy.LogicalName))
        {
            await provider.Client().GetAsync(new Uri("/h2", UriKind.Relative));
        }

        var second = Backends.SelectMany(b => b.Received).Single(r => r.PathAndQuery == "/h2");
        Assert.Equal("catalog", second.Host);
    }

    private static Dictionary<string, string?> Config(params TestBackend[] backends) =>
        backends.Select((b, i) => KeyValuePair.Create($"Services:catalog:http:{i}", (string?)b.Authority))
            .ToDictionary(kv => kv.Key, kv => kv.Value);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 30 s");
            await Task.Yield();
            await Task.Delay(5);
        }
    }

    private sealed class SilentResolver : Mesh.Client.Discovery.IEndpointResolver
    {
        public string Name => "silent-resolver";

        public IDisposable? Watch(Mesh.Client.Discovery.EndpointQuery query, Mesh.Client.Discovery.IEndpointObserver observer) =>
            query.ServiceName == "silent" ? new CancellationTokenSource() : null;
    }
}
