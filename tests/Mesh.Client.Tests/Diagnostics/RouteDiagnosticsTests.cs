using Mesh.Client.Diagnostics;
using Mesh.Client.Routing;
using Mesh.Client.Routing.Routes;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>
/// Routes in the snapshot: each route of a service with its match, its backends' configured and observed shares, and
/// each backend's recent traffic, from a split configured under <c>Mesh:Services:catalog:Routes</c> on real Kestrel
/// backends.
/// </summary>
public sealed class RouteDiagnosticsTests : IAsyncLifetime
{
    private TestBackend _v1 = null!;
    private TestBackend _v2 = null!;

    public async Task InitializeAsync()
    {
        _v1 = await TestBackend.StartAsync("v1");
        _v2 = await TestBackend.StartAsync("v2");
    }

    public async Task DisposeAsync()
    {
        await _v1.DisposeAsync();
        await _v2.DisposeAsync();
    }

    private IConfiguration Configuration() => new ConfigurationBuilder().AddInMemoryCollection(Settings()).Build();

    private Dictionary<string, string?> Settings() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Services:catalog:http:0"] = _v1.Address,
        ["Services:catalog-v2:http:0"] = _v2.Address,
        ["Mesh:Services:catalog:Routes:0:Name"] = "canary-testers",
        ["Mesh:Services:catalog:Routes:0:Matches:0:Path:Value"] = "/api",
        ["Mesh:Services:catalog:Routes:0:Matches:0:Headers:0:Name"] = "x-canary",
        ["Mesh:Services:catalog:Routes:0:Matches:0:Headers:0:Value"] = "true",
        ["Mesh:Services:catalog:Routes:0:Matches:1:Method"] = "POST",
        ["Mesh:Services:catalog:Routes:0:Backends:0:Service"] = "catalog-v2",
        ["Mesh:Services:catalog:Routes:1:Name"] = "canary",
        ["Mesh:Services:catalog:Routes:1:Backends:0:Service"] = "catalog",
        ["Mesh:Services:catalog:Routes:1:Backends:0:Weight"] = "80",
        ["Mesh:Services:catalog:Routes:1:Backends:1:Service"] = "catalog-v2",
        ["Mesh:Services:catalog:Routes:1:Backends:1:Weight"] = "20",
    };

    [Fact]
    public async Task Snapshot_shows_each_route_its_backends_configured_and_observed_shares_and_their_traffic()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        await using var provider = MeshTestHost.Build(configuration: Configuration(), timeProvider: time);
        var diagnostics = provider.GetRequiredService<IMeshDiagnostics>(); // asked for before the traffic: its series are recorded
        var client = provider.Client();
        const int Requests = 1000;
        for (int i = 0; i < Requests; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }

        var snapshot = diagnostics.GetSnapshot();

        var catalog = snapshot.Services.Single(s => s.ServiceName == "catalog");
        Assert.Equal(["canary-testers", "canary"], catalog.Routes.Select(r => r.Name));
        var testers = catalog.Routes[0];
        Assert.Equal("PathPrefix /api, header x-canary = true | POST", testers.Match);
        var only = Assert.Single(testers.Backends);
        Assert.Equal(("catalog-v2", 1, 1.0, 0L, 0.0), (only.Service, only.Weight, only.ConfiguredShare, only.Requests, only.ObservedShare));
        Assert.All(only.Traffic, b => Assert.Equal(0, b.Requests));

        var canary = catalog.Routes[1];
        Assert.Equal("*", canary.Match);
        Assert.False(canary.IsSticky);
        Assert.Equal(["catalog", "catalog-v2"], canary.Backends.Select(b => b.Service));
        Assert.Equal([0.8, 0.2], canary.Backends.Select(b => b.ConfiguredShare));
        Assert.Equal(Requests, canary.Backends.Sum(b => b.Requests));
        Assert.Equal(_v1.Count, canary.Backends[0].Requests);
        Assert.Equal(_v2.Count, canary.Backends[1].Requests);
        Assert.InRange(canary.Backends[0].ObservedShare, 0.75, 0.85);
        Assert.Equal(1.0, canary.Backends.Sum(b => b.ObservedShare), 9);
        foreach (var backend in canary.Backends)
        {
            Assert.Equal(backend.Requests / (double)Requests, backend.ObservedShare, 9);
            var current = backend.Traffic[^1];
            Assert.Equal((backend.Requests, 0L, 1.0), (current.Requests, current.Failures, current.SuccessRate));
            Assert.NotNull(current.P50);
            Assert.Equal(backend.Requests, backend.Traffic.Sum(b => b.Requests));
        }

        // The backend services' endpoints carry the same attempts in their own series.
        var v2 = snapshot.Services.Single(s => s.ServiceName == "catalog-v2");
        Assert.Empty(v2.Routes);
        Assert.Equal(_v2.Count, Assert.Single(v2.Endpoints).Traffic[^1].Requests);
        Assert.Equal(_v1.Count, Assert.Single(catalog.Endpoints).Traffic[^1].Requests);

        // Ten seconds later the attempts are one bucket back and the bucket in progress is empty.
        time.Advance(TrafficRecorder.BucketDuration);
        var later = provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services.Single(s => s.ServiceName == "catalog");
        var v1Series = later.Routes[1].Backends[0].Traffic;
        Assert.Equal(0, v1Series[^1].Requests);
        Assert.Equal(_v1.Count, v1Series[^2].Requests);
    }

    [Fact]
    public async Task No_traffic_series_are_kept_until_diagnostics_are_first_asked_for()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var provider = MeshTestHost.Build(configuration: Configuration(), timeProvider: time);
        var client = provider.Client();
        for (int i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
        }

        var registry = provider.GetRequiredService<ServiceRegistry>();
        Assert.All(registry.All.SelectMany(s => s.Endpoints.Endpoints.ToArray()), e => Assert.Null(e.TrafficIfAny)); // no memory spent

        var diagnostics = provider.GetRequiredService<IMeshDiagnostics>();
        for (int i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
        }

        var catalog = diagnostics.GetSnapshot().Services.Single(s => s.ServiceName == "catalog");
        Assert.Equal(20, catalog.Routes.Sum(r => r.Backends.Sum(b => b.Traffic.Sum(t => t.Requests))));
    }

    [Fact]
    public async Task A_reload_keeps_each_backends_series_and_restarts_the_counts_only_when_the_split_changes()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        var data = Settings();
        var source = new MutableConfigurationSource(data);
        await using var provider = MeshTestHost.Build(configuration: new ConfigurationBuilder().Add(source).Build(), timeProvider: time);
        _ = provider.GetRequiredService<IMeshDiagnostics>(); // asked for before the traffic: its series are recorded
        var client = provider.Client();
        async Task SendAsync(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
                response.EnsureSuccessStatusCode();
            }
        }

        RouteSnapshot Canary() =>
            provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services.Single(s => s.ServiceName == "catalog").Routes[1];
        static long Attempts(RouteBackendSnapshot backend) => backend.Traffic.Sum(b => b.Requests);

        await SendAsync(100);
        Assert.Equal(100, Canary().Backends.Sum(b => b.Requests));

        data["Mesh:Services:catalog:Balancer"] = "RoundRobin"; // another setting: the split and its counts stay
        source.Replace(data);
        var kept = Canary();
        Assert.Equal(100, kept.Backends.Sum(b => b.Requests));
        Assert.Equal(100, kept.Backends.Sum(Attempts));

        data["Mesh:Services:catalog:Routes:1:Backends:0:Weight"] = "50"; // a new split: its observed share starts again
        data["Mesh:Services:catalog:Routes:1:Backends:1:Weight"] = "50";
        source.Replace(data);
        var stepped = Canary();
        Assert.Equal([0.5, 0.5], stepped.Backends.Select(b => b.ConfiguredShare));
        Assert.All(stepped.Backends, b => Assert.Equal((0L, 0.0), (b.Requests, b.ObservedShare)));
        Assert.Equal(100, stepped.Backends.Sum(Attempts)); // the charts go on

        await SendAsync(100);
        var after = Canary();
        Assert.Equal(100, after.Backends.Sum(b => b.Requests));
        Assert.Equal(200, after.Backends.Sum(Attempts));
    }

    [Fact]
    public void A_new_route_list_hands_the_series_to_the_route_of_the_same_name_and_backend_service()
    {
        static MeshRoute Route(string name, params (string Service, int Weight)[] backends)
        {
            var route = new MeshRoute { Name = name };
            foreach (var (service, weight) in backends)
            {
                route.Backends.Add(new MeshRouteBackend { Service = service, Weight = weight });
            }

            return route;
        }

        var options = new MeshServiceOptions();
        var before = RouteTable.Build([Route("canary", ("catalog", 90), ("catalog-v2", 10)), Route("old", ("catalog", 1))], options)!;
        foreach (var backend in before.Routes.SelectMany(r => r.Backends))
        {
            backend.Traffic.Record(1, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
        }

        // What a route source publishes when a canary steps up: the same route and services, new weights; a new route.
        var next = RouteTable.Build([Route("canary", ("CATALOG", 50), ("catalog-v2", 50), ("catalog-v3", 0)), Route("new", ("catalog", 1))], options)!;
        RouteBackend.CarryOver(next, before);

        var canary = next.Routes[0].Backends;
        Assert.Same(before.Routes[0].Backends[0].TrafficIfAny, canary[0].TrafficIfAny); // service names ignore case
        Assert.Same(before.Routes[0].Backends[1].TrafficIfAny, canary[1].TrafficIfAny);
        Assert.Null(canary[2].TrafficIfAny); // a backend the route did not have
        Assert.Null(next.Routes[1].Backends[0].TrafficIfAny); // a route of another name
    }
}
