using System.Net;
using Mesh.Client.Balancing;
using Mesh.Client.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Integration;

/// <summary>
/// Microsoft.Extensions.Http.Resilience composed with the mesh, end to end on real Kestrel backends: the standard
/// resilience handler outside <c>AddMeshHandler</c> (its retries pick again, its breaker sees only what the mesh could not
/// absorb, backend attempts stay within the mesh's retry budget), and the standard hedging handler routing across two
/// logical mesh names, with the mesh balancing each name's replicas.
/// </summary>
/// <remarks>
/// Round robin throughout, so which backend an attempt reaches is known and the counts are exact (Peak-EWMA, the
/// default, steers away from a failing backend by itself, which would hide what these tests look at). The outer
/// retries wait zero, so no test spends its time in back-off.
/// </remarks>
public sealed class ResilienceCompositionTests : BackendFleetTests
{
    private const string Client = "composed";
    private const int BudgetReserve = 10 * 10; // MinRetriesPerSecond × BudgetTtl: spendable at once, as in Finagle

    private readonly ITestOutputHelper _output;

    public ResilienceCompositionTests(ITestOutputHelper output)
        : base(count: 4)
    {
        _output = output;
    }

    public enum FailureMode
    {
        /// <summary>The backend answers every request with 503.</summary>
        Answers503,

        /// <summary>The backend is stopped: connections to it are refused.</summary>
        RefusesConnections,
    }

    public enum EastState
    {
        Healthy,

        /// <summary>East's replicas never answer (until the request is cancelled).</summary>
        Slow,

        /// <summary>East's replicas answer 503.</summary>
        Failing,
    }

    /// <summary>What the outer handler did, counted through its own callbacks.</summary>
    private sealed class Counters
    {
        public int OuterRetries;
        public int BreakerOpened;
        public int Hedges;

        /// <summary>Requests that entered <c>MeshHandler</c> (each deposits into the mesh's retry budget).</summary>
        public int MeshRequests;
    }

    /// <summary>Sits between the outer handler and the mesh: counts the requests the mesh receives.</summary>
    private sealed class MeshEntryCounter(Counters counters) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref counters.MeshRequests);
            return base.SendAsync(request, cancellationToken);
        }
    }

    private static void Observe(HttpStandardResilienceOptions options, Counters counters)
    {
        options.Retry.Delay = TimeSpan.Zero;
        options.Retry.BackoffType = DelayBackoffType.Constant;
        options.Retry.UseJitter = false;
        options.Retry.OnRetry = _ =>
        {
            Interlocked.Increment(ref counters.OuterRetries);
            return default;
        };
        options.CircuitBreaker.BreakDuration = TimeSpan.FromSeconds(30); // stays open for the rest of any test
        options.CircuitBreaker.OnOpened = _ =>
        {
            Interlocked.Increment(ref counters.BreakerOpened);
            return default;
        };
    }

    private static void Fail(TestBackend backend) => backend.Handler = ctx =>
    {
        ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        return Task.CompletedTask;
    };

    /// <summary>
    /// <c>AddStandardResilienceHandler().SelectPipelineByAuthority()</c>, a counter, then <c>AddMeshHandler</c>, for service
    /// <c>catalog</c> on the first three backends.
    /// </summary>
    private ServiceProvider Composed(Counters counters, Action<MeshServiceOptions>? mesh = null)
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", Addresses.Take(3).ToArray());
        var http = services.AddHttpClient(Client, c => c.BaseAddress = new Uri("http://catalog"));
        http.AddStandardResilienceHandler(o => Observe(o, counters)).SelectPipelineByAuthority(); // outside
        http.AddHttpMessageHandler(() => new MeshEntryCounter(counters));
        http.AddMeshHandler(o =>                                                                  // inside
        {
            o.Balancer = BalancerNames.RoundRobin;
            mesh?.Invoke(o);
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    private static ServiceState State(IServiceProvider provider, string service = "catalog") =>
        provider.GetRequiredService<ServiceRegistry>().GetClient(Client).All.Single(s => s.ServiceName == service);

    /// <summary>Attempts the mesh made at the service's endpoints, refused connections included.</summary>
    private static long MeshAttempts(ServiceState state) => state.Endpoints.Endpoints.ToArray().Sum(e => e.Load.Completed);

    private static Uri Path(string path) => new(path, UriKind.Relative);

    // (a) The README's wiring (ConfigureHttpClientDefaults, as Aspire's ServiceDefaults do it), one backend of three failing.
    [Theory]
    [InlineData(FailureMode.Answers503)]
    [InlineData(FailureMode.RefusesConnections)]
    public async Task Wired_as_the_readme_says_the_mesh_absorbs_one_failing_backend_so_callers_see_no_failure_the_standard_handler_never_retries_and_its_breaker_stays_closed(FailureMode mode)
    {
        var counters = new Counters();
        var addresses = Addresses.Take(3).ToArray();
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", addresses);
        services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler(o => Observe(o, counters));
            http.AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        });
        services.AddHttpClient(Client, c => c.BaseAddress = new Uri("http://catalog"));
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var failing = Backends[0];
        if (mode == FailureMode.Answers503)
        {
            Fail(failing);
        }
        else
        {
            await failing.DisposeAsync();
            Backends.Remove(failing);
        }

        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(Client);
        const int requests = 300; // 3 × the breaker's minimum throughput (100), well inside its 30 s sampling window
        for (int i = 0; i < requests; i++)
        {
            // A BrokenCircuitException (an open outer breaker) would throw here.
            using var response = await client.GetAsync(Path($"/items/{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var state = State(provider);
        var failingEndpoint = state.Endpoints.Find(addresses[0])!;
        Assert.True(failingEndpoint.Load.Completed >= 1, "the failing backend was never tried: nothing was absorbed");
        Assert.Equal(0, counters.OuterRetries);   // outside the mesh: nothing reached the outer handler to retry
        Assert.Equal(0, counters.BreakerOpened);  // per client here = per logical name: closed throughout
        Assert.Equal(requests, Backends.Skip(mode == FailureMode.Answers503 ? 1 : 0).Take(2).Sum(b => b.Count)); // each served once
        long attempts = MeshAttempts(state);
        _output.WriteLine($"{mode}: {requests} requests, {attempts} attempts ({(double)attempts / requests:0.000} per request), " +
            $"{failingEndpoint.Load.Completed} at the failing backend ({failingEndpoint.Health.Phase}), outer retries {counters.OuterRetries}, breaker opened {counters.BreakerOpened}");
        Assert.InRange(attempts, requests + 1, (int)(1.2 * requests) + BudgetReserve);
    }

    // (a) Each outer retry goes through the mesh again, so it is balanced again (and is a new request to the budget).
    [Fact]
    public async Task With_the_mesh_not_retrying_each_outer_retry_enters_the_mesh_again_and_goes_to_another_backend()
    {
        var counters = new Counters();
        using var provider = Composed(counters, o =>
        {
            o.Retry.Enabled = false;
            o.PassiveHealth.Enabled = false; // keep the failing backend in rotation
        });
        Fail(Backends[0]);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(Client);

        const int callers = 45; // at most 90 outer attempts: under the breaker's minimum throughput (100), so it cannot open
        for (int i = 0; i < callers; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Path($"/items/{i}"));
            request.Headers.Add("x-caller", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        string[] failedCallers = Backends[0].Received.Select(r => r.Headers["x-caller"]).ToArray();
        Assert.NotEmpty(failedCallers);
        Assert.Equal(failedCallers.Length, failedCallers.Distinct().Count()); // no caller was sent to the failing backend twice
        Assert.Equal(failedCallers.Length, counters.OuterRetries);            // one outer retry per failure...
        var servedBy = Backends.Skip(1).Take(2).SelectMany(b => b.Received.Select(r => r.Headers["x-caller"])).ToArray();
        Assert.Equal(callers, servedBy.Length);                                // ...and every caller served exactly once
        Assert.Equal(callers, servedBy.Distinct().Count());
        Assert.Equal(callers + counters.OuterRetries, counters.MeshRequests);   // every outer retry is a new mesh request
        Assert.Equal(0, counters.BreakerOpened);
        _output.WriteLine($"{callers} callers, {counters.MeshRequests} mesh requests, outer retries {counters.OuterRetries}, " +
            $"per backend {string.Join("/", Backends.Take(3).Select(b => b.Count))}");
    }

    // (a) The control: the same single-endpoint failures, when they do reach the outer handler, open its breaker. This is
    // what the mesh's retries and ejection prevent in the test above; without it that test's "closed" could not fail.
    [Fact]
    public async Task Control_when_single_backend_failures_reach_the_outer_handler_its_breaker_opens()
    {
        var counters = new Counters();
        using var provider = Composed(counters, o =>
        {
            o.Retry.Enabled = false;
            o.PassiveHealth.Enabled = false;
        });
        Fail(Backends[0]);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(Client);

        BrokenCircuitException? broken = null;
        for (int i = 0; i < 300 && broken is null; i++)
        {
            try
            {
                using var response = await client.GetAsync(Path($"/items/{i}"));
            }
            catch (BrokenCircuitException ex)
            {
                broken = ex;
            }
        }

        Assert.NotNull(broken);
        Assert.Equal(1, counters.BreakerOpened);
        _output.WriteLine($"opened after {counters.MeshRequests} outer attempts ({Backends[0].Count} failed), outer retries {counters.OuterRetries}");
    }

    // (b) Every backend fails: the outer breaker still protects, and the backends see no more than the budget allows.
    [Fact]
    public async Task When_every_backend_fails_the_outer_breaker_opens_and_attempts_at_the_backends_stay_within_the_mesh_budget()
    {
        foreach (var backend in Backends.Take(3))
        {
            Fail(backend);
        }

        var counters = new Counters();
        using var provider = Composed(counters, o => o.Retry.SameEndpointBackoff = TimeSpan.Zero);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(Client);

        int failedCallers = 0;
        bool broken = false;
        for (int i = 0; i < 200 && !broken; i++)
        {
            try
            {
                using var response = await client.GetAsync(Path($"/items/{i}"));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                failedCallers++;
            }
            catch (BrokenCircuitException)
            {
                broken = true;
            }
        }

        Assert.True(broken, "the outer breaker never opened");
        Assert.Equal(1, counters.BreakerOpened);
        Assert.True(counters.OuterRetries > 0, "the mesh could not absorb this, so the outer handler must have retried");
        // Every outer attempt that passed the breaker entered the mesh once: the callers' plus the outer retries.
        Assert.Equal(failedCallers + counters.OuterRetries, counters.MeshRequests);

        var state = State(provider);
        long attempts = MeshAttempts(state);
        _output.WriteLine($"{failedCallers} callers got 503 before the breaker opened; outer retries {counters.OuterRetries}; " +
            $"{counters.MeshRequests} mesh requests; {attempts} attempts at the backends ({(double)attempts / counters.MeshRequests:0.00} per mesh request, " +
            $"{(double)attempts / failedCallers:0.00} per caller); bound {(int)(1.2 * counters.MeshRequests) + BudgetReserve}");
        Assert.Equal(attempts, Backends.Take(3).Sum(b => b.Count));
        // The mesh's budget counts every request it receives, outer retries included: retries ≤ 20 % of them + the reserve.
        Assert.InRange(attempts, counters.MeshRequests + 1, (int)(1.2 * counters.MeshRequests) + BudgetReserve);

        // Open, it protects: callers fail at once and nothing more reaches the mesh or the backends.
        int meshRequests = counters.MeshRequests;
        for (int i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(Path($"/open/{i}")));
        }

        Assert.Equal(meshRequests, counters.MeshRequests);
        Assert.Equal(attempts, Backends.Take(3).Sum(b => b.Count));
    }

    // (c) Hedging across two logical names (regions), each balanced by the mesh across its own replicas.
    [Theory]
    [InlineData(EastState.Healthy)]
    [InlineData(EastState.Slow)]
    [InlineData(EastState.Failing)]
    public async Task Standard_hedging_across_two_logical_names_rescues_a_slow_or_failing_east_via_west_and_the_mesh_balances_each_names_replicas(EastState east)
    {
        // b0, b1: catalog-east; b2, b3: catalog-west.
        if (east == EastState.Slow)
        {
            foreach (var backend in Backends.Take(2))
            {
                backend.Handler = ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        else if (east == EastState.Failing)
        {
            Fail(Backends[0]);
            Fail(Backends[1]);
        }

        var counters = new Counters();
        var services = new ServiceCollection();
        services.AddMeshClient()
            .AddStaticEndpoints("catalog-east", Backends[0].Address, Backends[1].Address)
            .AddStaticEndpoints("catalog-west", Backends[2].Address, Backends[3].Address);
        var http = services.AddHttpClient(Client, c => c.BaseAddress = new Uri("http://catalog"));
        http.AddStandardHedgingHandler(routing => routing.ConfigureOrderedGroups(o =>
            {
                o.Groups.Add(new UriEndpointGroup { Endpoints = { new WeightedUriEndpoint { Uri = new Uri("http://catalog-east") } } });
                o.Groups.Add(new UriEndpointGroup { Endpoints = { new WeightedUriEndpoint { Uri = new Uri("http://catalog-west") } } });
            }))
            .Configure(o =>
            {
                // Slow: hedge after 100 ms. Otherwise a delay no healthy answer takes, so a hedge means a failure.
                o.Hedging.Delay = east == EastState.Slow ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(5);
                o.Hedging.OnHedging = _ =>
                {
                    Interlocked.Increment(ref counters.Hedges);
                    return default;
                };
            });
        http.AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(Client);

        const int requests = 20;
        var answeredBy = new List<string>();
        for (int i = 0; i < requests; i++)
        {
            using var response = await client.GetAsync(Path($"/items/{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            answeredBy.Add(await response.Content.ReadAsStringAsync());
        }

        var eastState = State(provider, "catalog-east");
        // Attempts started at each east replica, counted by the mesh: a slow replica's cancelled attempt may be cut before its
        // server records it, and the hedging handler need not wait for the loser to end before answering.
        var eastAttempts = Backends.Take(2).Select(b => eastState.Endpoints.Find(b.Address)!.Load)
            .Select(load => load.Completed + load.InFlight).ToArray();
        _output.WriteLine($"{east}: hedges {counters.Hedges}; east attempts {string.Join("/", eastAttempts)} (received {Backends[0].Count}/{Backends[1].Count}); " +
            $"west received {Backends[2].Count}/{Backends[3].Count}; answered by {string.Join(",", answeredBy.Distinct().Order())}");
        // East took every primary attempt, balanced across both its replicas.
        Assert.All(eastAttempts, a => Assert.True(a > 0, $"an east replica got no attempt: {string.Join(", ", eastAttempts)}"));
        if (east == EastState.Healthy)
        {
            Assert.Equal(0, counters.Hedges);
            Assert.All(answeredBy, name => Assert.Contains(name, new[] { "b0", "b1" }));
            Assert.Equal(requests / 2, Backends[0].Count);
            Assert.Equal(requests / 2, Backends[1].Count);
            Assert.Equal(0, Backends[2].Count + Backends[3].Count);
            Assert.Null(provider.GetRequiredService<ServiceRegistry>().GetClient(Client).All.SingleOrDefault(s => s.ServiceName == "catalog-west"));
            return;
        }

        Assert.Equal(requests, counters.Hedges);
        Assert.All(answeredBy, name => Assert.Contains(name, new[] { "b2", "b3" }));
        // West's replicas shared the rescue evenly (round robin within the name).
        Assert.Equal(requests / 2, Backends[2].Count);
        Assert.Equal(requests / 2, Backends[3].Count);
        if (east == EastState.Slow)
        {
            // The losing primaries were cancelled by the hedging handler: a caller's cancellation to the mesh, never an
            // endpoint failure, so the slow replicas are not ejected for it.
            Assert.Equal(requests, eastAttempts.Sum());
            Assert.All(eastState.Endpoints.Endpoints.ToArray(), e => Assert.Equal(0, e.Health.ConsecutiveFailures));
        }
        else
        {
            // Failing: the mesh retried inside east (another replica first) before the hedging handler went west.
            Assert.True(eastAttempts.Sum() > requests, $"the mesh did not retry inside east: {eastAttempts.Sum()} attempts");
            Assert.True(Backends[0].Count > 0 && Backends[1].Count > 0);
        }
    }
}
