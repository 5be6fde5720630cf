using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit.Abstractions;

namespace Mesh.Client.Kubernetes.Tests.Integration;

/// <summary>
/// HTTPRoutes attached to the Service <c>catalog</c> (GAMMA), served by the API stand-in, steering a real HttpClient
/// with AddMeshHandler between real Kestrel pods of <c>catalog</c>, <c>catalog-v1</c> and <c>catalog-v2</c> on 127.0.0.1.
/// </summary>
public sealed class HttpRouteEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Parent = """ "parentRefs": [ { "group": "", "kind": "Service", "name": "catalog" } ] """;

    private readonly FakeLogCollector _logs = new();
    private KubernetesTestCluster _cluster = null!;
    private TestBackend _catalog = null!;
    private TestBackend _v1 = null!;
    private TestBackend _v2 = null!;

    public async Task InitializeAsync()
    {
        _cluster = await KubernetesTestCluster.StartAsync();
        _catalog = await TestBackend.StartAsync("catalog");
        _v1 = await TestBackend.StartAsync("v1");
        _v2 = await TestBackend.StartAsync("v2");
        foreach (var (service, backend) in new[] { ("catalog", _catalog), ("catalog-v1", _v1), ("catalog-v2", _v2) })
        {
            _cluster.Api.AddService("default", service);
            _cluster.Api.SetSlice("default", service, $"{service}-0", [new FakeEndpoint("127.0.0.1", Pod: $"{service}-pod")], [("http", backend.Port)]);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var backend in new[] { _catalog, _v1, _v2 })
        {
            await backend.DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    private static string Split(int v1, int v2) => $$"""
        { {{Parent}}, "rules": [ { "backendRefs": [
            { "name": "catalog-v1", "port": 80, "weight": {{v1.ToString(CultureInfo.InvariantCulture)}} },
            { "name": "catalog-v2", "port": 80, "weight": {{v2.ToString(CultureInfo.InvariantCulture)}} } ] } ] }
        """;

    private ServiceProvider Build(Action<KubernetesResolverOptions>? configure = null, IConfiguration? configuration = null) =>
        MeshTestHost.Build(m =>
        {
            m.Services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(_logs)));
            m.AddKubernetes(o =>
            {
                _cluster.Configure(o);
                configure?.Invoke(o);
            });
        }, configuration);

    private static async Task<string> SendAsync(HttpClient client, string path = "/items", HttpMethod? method = null, string? canary = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (canary is not null)
        {
            request.Headers.Add("x-canary", canary);
        }

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task Shares_follow_the_weights_within_two_percent_over_10000_requests()
    {
        _cluster.Api.SetHttpRoute("default", "catalog-canary", Split(90, 10));
        using var provider = Build();
        var client = provider.Client();

        // 90/10 over 10,000 requests: the v2 count has a standard deviation of 30 (0.3 %), so ±2 % is over 6 σ.
        var counts = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        int next = 0;
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= 10_000)
            {
                counts.AddOrUpdate(await SendAsync(client), 1, static (_, n) => n + 1);
            }
        }));
        await Task.WhenAll(workers);

        output.WriteLine($"v1 {counts["v1"]}, v2 {counts["v2"]}");
        Assert.Equal(10_000, counts.Values.Sum());
        Assert.Equal(["v1", "v2"], counts.Keys.Order(StringComparer.Ordinal));
        Assert.InRange(counts["v1"] / 10_000.0, 0.88, 0.92);
        Assert.InRange(counts["v2"] / 10_000.0, 0.08, 0.12);
    }

    [Fact]
    public async Task A_weight_change_event_moves_traffic_within_a_second_with_no_failed_request()
    {
        _cluster.Api.SetHttpRoute("default", "catalog-canary", Split(90, 10));
        using var provider = Build();
        var client = provider.Client();
        var clock = Stopwatch.StartNew();
        var served = new ConcurrentQueue<(TimeSpan Started, string Backend)>();
        var failures = new ConcurrentQueue<string>();
        long shiftedAt = long.MaxValue;
        int v2AfterShift = 0;
        var progress = new AsyncSignal();
        using var stop = new CancellationTokenSource(WatchRecorder.DefaultTimeout);

        // Steady concurrent traffic until 500 requests started after the event have all gone to v2.
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = clock.Elapsed;
                try
                {
                    string backend = await SendAsync(client);
                    served.Enqueue((started, backend));
                    if (started.Ticks > Interlocked.Read(ref shiftedAt) && backend == "v2" && Interlocked.Increment(ref v2AfterShift) >= 500)
                    {
                        await stop.CancelAsync();
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue($"{started}: {ex.GetType().Name}: {ex.Message}");
                }

                progress.Pulse();
            }
        })).ToArray();

        // Traffic is steady, on both sides, before the change.
        await progress.WaitUntilAsync(() => served.Count >= 300 && served.Any(s => s.Backend == "v1") && served.Any(s => s.Backend == "v2"),
            "traffic on both backends");
        var shift = clock.Elapsed;
        Interlocked.Exchange(ref shiftedAt, shift.Ticks);
        _cluster.Api.SetHttpRoute("default", "catalog-canary", Split(0, 100));
        await Task.WhenAll(workers);

        Assert.Empty(failures);
        Assert.True(Volatile.Read(ref v2AfterShift) >= 500, "the traffic did not move to v2 within the test's timeout");
        var lastOnV1 = served.Where(s => s.Backend == "v1").Max(s => s.Started);
        output.WriteLine($"{served.Count} requests; the last to go to v1 started {(lastOnV1 - shift).TotalMilliseconds:0.#} ms after the event.");
        Assert.True(lastOnV1 - shift < TimeSpan.FromSeconds(1), $"a request started {(lastOnV1 - shift).TotalMilliseconds:0} ms after the event still went to v1");
    }

    [Fact]
    public async Task Path_header_and_method_matches_pick_the_backend_with_Gateway_API_precedence()
    {
        // The older route takes everything; the newer one's more specific rules win anyway.
        _cluster.Api.SetHttpRoute("default", "base", $$"""{ {{Parent}}, "rules": [ { "backendRefs": [ { "name": "catalog-v1" } ] } ] }""");
        _cluster.Api.SetHttpRoute("default", "canary", $$"""
            { {{Parent}}, "rules": [
                { "matches": [ { "path": { "type": "Exact", "value": "/items/special" } } ], "backendRefs": [ { "name": "catalog-v2" } ] },
                { "matches": [ { "headers": [ { "name": "x-canary", "value": "true" } ] } ], "backendRefs": [ { "name": "catalog-v2" } ] },
                { "matches": [ { "path": { "type": "PathPrefix", "value": "/items" }, "method": "POST" } ], "backendRefs": [ { "name": "catalog" } ] } ] }
            """);
        using var provider = Build();
        var client = provider.Client();

        Assert.Equal("v1", await SendAsync(client, "/items"));
        Assert.Equal("v2", await SendAsync(client, "/items/special"));                        // an exact path first
        Assert.Equal("v2", await SendAsync(client, "/orders", canary: "true"));                // a header over no match
        Assert.Equal("v1", await SendAsync(client, "/orders", canary: "false"));
        Assert.Equal("catalog", await SendAsync(client, "/items/7", HttpMethod.Post));         // the method's rule
        Assert.Equal("catalog", await SendAsync(client, "/items", HttpMethod.Post, "true"));   // a longer prefix over a header
        Assert.Equal("v1", await SendAsync(client, "/itemsx", HttpMethod.Post));               // a prefix matches whole segments
    }

    [Fact]
    public async Task A_rules_backendRequest_timeout_and_retry_codes_apply()
    {
        _v1.Handler = async context =>
        {
            if (context.Request.Path == "/slow")
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted); // until the client gives up
            }
            else if (context.Request.Path.StartsWithSegments("/flaky") && _v1.Received.Count(r => r.PathAndQuery == context.Request.Path.Value) == 1)
            {
                context.Response.StatusCode = 500; // the first attempt fails
            }
            else
            {
                await context.Response.WriteAsync("v1");
            }
        };
        _cluster.Api.SetHttpRoute("default", "policies", $$"""
            { {{Parent}}, "rules": [
                { "matches": [ { "path": { "type": "Exact", "value": "/slow" } } ], "backendRefs": [ { "name": "catalog-v1" } ],
                  "timeouts": { "backendRequest": "300ms" }, "retry": { "attempts": 0 } },
                { "matches": [ { "path": { "type": "Exact", "value": "/flaky/retried" } } ], "backendRefs": [ { "name": "catalog-v1" } ],
                  "retry": { "codes": [ 500 ], "attempts": 2, "backoff": "1ms" } },
                { "matches": [ { "path": { "type": "Exact", "value": "/flaky/not-retried" } } ], "backendRefs": [ { "name": "catalog-v1" } ] } ] }
            """);
        using var provider = Build();
        var client = provider.Client();

        // The service's own attempt timeout is 10 s; the rule's 300 ms ends the request long before that.
        var started = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<Exception>(() => client.GetAsync(new Uri("/slow", UriKind.Relative)));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(8), $"took {started.Elapsed}");
        Assert.Equal(1, _v1.Received.Count(r => r.PathAndQuery == "/slow"));

        // 500 is not retried by default; the rule's codes make it so.
        Assert.Equal("v1", await SendAsync(client, "/flaky/retried"));
        Assert.Equal(2, _v1.Received.Count(r => r.PathAndQuery == "/flaky/retried"));
        using var notRetried = await client.GetAsync(new Uri("/flaky/not-retried", UriKind.Relative));
        Assert.Equal(HttpStatusCode.InternalServerError, notRetried.StatusCode);
        Assert.Equal(1, _v1.Received.Count(r => r.PathAndQuery == "/flaky/not-retried"));
    }

    [Fact]
    public async Task Without_the_CRD_requests_go_to_the_services_own_pods_and_it_is_logged_once()
    {
        _cluster.Api.HttpRoutesInstalled = false;
        using var provider = Build();
        var client = provider.Client();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("catalog", await SendAsync(client));
        }

        Assert.Equal(1, _logs.GetSnapshot().Count(r => r.Id.Id == 213));
    }

    [Fact]
    public async Task Forbidden_HTTPRoutes_leave_requests_on_the_services_own_pods_and_say_which_permission()
    {
        _cluster.Api.ForbidHttpRoutes = true;
        using var provider = Build();
        var client = provider.Client();
        Assert.Equal("catalog", await SendAsync(client));
        Assert.Contains("'httproutes' in API group 'gateway.networking.k8s.io'", _logs.AllText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_first_requests_wait_until_the_routes_are_known()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _cluster.Api.HttpRouteListGate = gate;
        _cluster.Api.SetHttpRoute("default", "catalog-canary", Split(0, 100));
        using var provider = Build();
        var client = provider.Client();

        var first = SendAsync(client);
        await _cluster.Api.Changed.WaitUntilAsync(() => _cluster.Api.HttpRouteLists == 1 && _cluster.Api.Lists >= 1, "the lists");
        Assert.False(first.IsCompleted);
        gate.SetResult();

        // Had it not waited, it would have gone to catalog's own pod.
        Assert.Equal("v2", await first);
        Assert.Equal(0, _catalog.Count);
    }

    [Fact]
    public void The_resolver_and_the_route_source_share_one_connection()
    {
        using var provider = Build();
        var resolver = provider.GetServices<Mesh.Client.Discovery.IEndpointResolver>().OfType<Mesh.Client.Kubernetes.Discovery.KubernetesEndpointResolver>().Single();
        var source = provider.GetServices<Mesh.Client.Discovery.IMeshRouteSource>().OfType<Mesh.Client.Kubernetes.Routes.KubernetesRouteSource>().Single();
        Assert.Same(resolver.Connection, source.Connection);
    }

    [Fact]
    public async Task Turned_off_in_configuration_no_HTTPRoute_is_read()
    {
        _cluster.Api.SetHttpRoute("default", "catalog-canary", Split(0, 100));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Kubernetes:HttpRoutes"] = "false",
        }).Build();
        using var provider = Build(configuration: configuration);
        Assert.Equal("catalog", await SendAsync(provider.Client()));
        Assert.Equal(0, _cluster.Api.HttpRouteLists);
    }

    [Fact]
    public async Task Unsupported_fields_are_logged_once()
    {
        _cluster.Api.SetHttpRoute("default", "filtered", $$"""
            { {{Parent}}, "rules": [ { "filters": [ { "type": "RequestHeaderModifier" } ], "backendRefs": [ { "name": "catalog-v2" } ] } ] }
            """);
        using var provider = Build();
        var client = provider.Client();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("v2", await SendAsync(client));
        }

        _cluster.Api.SetHttpRoute("default", "unrelated", """{ "parentRefs": [ { "kind": "Service", "name": "inventory" } ] }""");
        Assert.Single(_logs.GetSnapshot(), r => r.Message.Contains("filter 'RequestHeaderModifier' is not supported", StringComparison.Ordinal));
    }
}
