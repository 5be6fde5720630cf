using Mesh.Client.Diagnostics;
using Mesh.Client.Health;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>The snapshot API reports what the mesh knows: services, endpoints, health, load, latency.</summary>
public sealed class MeshDiagnosticsTests : BackendFleetTests
{
    [Fact]
    public void Before_any_request_the_snapshot_has_no_services()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address));

        Assert.Empty(host.Provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);
    }

    [Fact]
    public async Task Snapshot_lists_each_endpoint_with_its_requests_latency_and_state()
    {
        var time = new FakeTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddMeshClient().AddStaticEndpoints("catalog", Backends.Select(b => b.Address).ToArray());
        services.AddHttpClient("shop", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("shop");
        for (int i = 0; i < 6; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }

        var registry = provider.GetRequiredService<Mesh.Client.Routing.ServiceRegistry>();
        var state = registry.All.Single();
        state.Endpoints[2].Health.SetPassive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        var diagnostics = provider.GetRequiredService<IMeshDiagnostics>();

        var snapshot = diagnostics.GetSnapshot();

        Assert.Equal(time.GetUtcNow(), snapshot.Timestamp);
        var service = Assert.Single(snapshot.Services);
        Assert.Equal(("shop", "catalog", "static", "RoundRobin"), (service.ClientName, service.ServiceName, service.Resolver, service.Balancer));
        Assert.True(service.IsResolved);
        Assert.False(service.IsPanic);
        Assert.Null(service.LastError);
        Assert.Equal(Backends.Select(b => b.Authority), service.Endpoints.Select(e => e.Address));
        Assert.All(service.Endpoints, e =>
        {
            Assert.Equal(2, e.Requests);
            Assert.Equal(0, e.InFlight);
            Assert.True(e.HasRttSample);
            Assert.Equal(TimeSpan.Zero, e.RttEstimate); // the manual clock did not move while requests ran
        });
        Assert.Equal([EndpointState.Available, EndpointState.Available, EndpointState.Ejected], service.Endpoints.Select(e => e.State));
        Assert.Equal([true, true, false], service.Endpoints.Select(e => e.IsRoutable));
        Assert.Equal(HealthOpinion.Unhealthy, service.Endpoints[2].PassiveHealth);
        Assert.Equal(HealthOpinion.Unknown, service.Endpoints[2].ActiveHealth);
    }

    [Fact]
    public async Task Snapshot_reports_panic_and_the_resolvers_last_error()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address));
        using (var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative)))
        {
            response.EnsureSuccessStatusCode();
        }

        var state = host.Service();
        state.Endpoints[0].Health.SetActive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        state.OnError(new InvalidOperationException("source unreachable"));

        var service = Assert.Single(host.Provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);

        Assert.True(service.IsPanic);
        Assert.Equal("source unreachable", service.LastError);
        var endpoint = Assert.Single(service.Endpoints);
        Assert.Equal(EndpointState.Unhealthy, endpoint.State);
        Assert.True(endpoint.IsRoutable); // panic: every endpoint takes traffic
    }

    [Fact]
    public async Task Seed_latency_is_reported_before_the_first_sample()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address, Backends[1].Address));
        using (var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative)))
        {
            response.EnsureSuccessStatusCode();
        }

        var service = Assert.Single(host.Provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);
        var untouched = Assert.Single(service.Endpoints, e => e.Requests == 0);

        Assert.False(untouched.HasRttSample);
        Assert.Equal(EndpointLoad.DefaultSeedRtt, untouched.RttEstimate);
    }
}
