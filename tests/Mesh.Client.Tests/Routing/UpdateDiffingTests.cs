using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Routing;

/// <summary>Finagle's rule across resolver updates: survivors keep their live state, newcomers start fresh, leavers finish.</summary>
public sealed class UpdateDiffingTests
{
    private readonly FakeTimeProvider _time = new();

    private ServiceState NewService() =>
        new("client", new EndpointQuery("catalog", ["http"]), new MeshServiceOptions(), new RoundRobinBalancer(), _time, NullLogger.Instance);

    private static EndpointAddress E(string address, int weight = 1, int priority = 0) => EndpointAddress.Parse(address, weight: weight) is var e && priority == 0
        ? e
        : new EndpointAddress(e.Scheme, e.Host, e.Port, weight, priority: priority);

    [Fact]
    public void An_endpoint_in_both_updates_keeps_its_latency_estimate_in_flight_count_and_health_opinion()
    {
        using var service = NewService();
        service.OnEndpoints([E("10.0.0.1:80"), E("10.0.0.2:80")]);
        var first = service.Endpoints.Find("http://10.0.0.1:80")!;
        var second = service.Endpoints.Find("http://10.0.0.2:80")!;
        var slow = first.Begin(_time);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        slow.Complete(AttemptOutcome.Success); // estimate: 250 ms
        var inFlight = first.Begin(_time);
        second.Health.SetPassive(HealthOpinion.Unhealthy);
        service.OnHealthChanged();
        double estimate = first.Load.GetRttEstimateTicks(_time.GetTimestamp());

        // The resolver publishes new address objects for the same addresses (spelled differently), plus a new one.
        service.OnEndpoints([E("10.0.0.3:80"), E("HTTP://10.0.0.2:80"), E("10.0.0.1:80")]);

        var survivor = service.Endpoints.Find("http://10.0.0.1:80")!;
        Assert.Same(first, survivor); // the same address: the very same record
        Assert.Equal(1, survivor.Load.InFlight);
        Assert.Equal(estimate, survivor.Load.GetRttEstimateTicks(_time.GetTimestamp()));
        Assert.Equal(HealthOpinion.Unhealthy, service.Endpoints.Find("http://10.0.0.2:80")!.Health.Passive);
        Assert.Equal(["http://10.0.0.3:80", "http://10.0.0.1:80"], service.Endpoints.Routable.ToArray().Select(e => e.Key));
        var newcomer = service.Endpoints.Find("http://10.0.0.3:80")!;
        Assert.False(newcomer.Load.HasSample);
        Assert.Equal(HealthOpinion.Unknown, newcomer.Health.Passive);
        inFlight.Complete(AttemptOutcome.Success);
        Assert.Equal(0, survivor.Load.InFlight);
    }

    [Fact]
    public void A_survivor_whose_weight_or_priority_changed_takes_the_new_description_and_keeps_its_state()
    {
        using var service = NewService();
        service.OnEndpoints([E("10.0.0.1:80", weight: 5)]);
        var before = service.Endpoints[0];
        var lease = before.Begin(_time);
        before.Health.SetActive(HealthOpinion.Healthy);

        service.OnEndpoints([E("10.0.0.1:80", weight: 2, priority: 1)]);

        var after = service.Endpoints[0];
        Assert.Same(before, after); // one record per address, redescribed in place
        Assert.Equal((2, 1), (after.Address.Weight, after.Address.Priority));
        Assert.Equal(HealthOpinion.Healthy, after.Health.Active);
        Assert.Equal(1, after.Load.InFlight);
        lease.Complete(AttemptOutcome.Success);
        Assert.Equal(0, after.Load.InFlight);
    }

    [Fact]
    public void A_removed_endpoint_finishes_its_in_flight_requests_and_receives_no_new_ones()
    {
        using var service = NewService();
        service.OnEndpoints([E("10.0.0.1:80"), E("10.0.0.2:80")]);
        var leaving = service.Endpoints.Find("http://10.0.0.2:80")!;
        var lease = leaving.Begin(_time);

        service.OnEndpoints([E("10.0.0.1:80")]);

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("http://10.0.0.1:80", service.Balancer.Pick(new PickContext(new HttpRequestMessage()))!.Key);
        }

        _time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.Equal(TimeSpan.FromMilliseconds(40), lease.Complete(AttemptOutcome.Success));
        Assert.Equal((0, 1L), (leaving.Load.InFlight, leaving.Load.Completed));
        Assert.Null(service.Endpoints.Find(leaving.Key));
    }

    [Fact]
    public void The_same_set_in_another_order_is_republished_but_keeps_every_endpoint()
    {
        using var service = NewService();
        service.OnEndpoints([E("10.0.0.1:80"), E("10.0.0.2:80")]);
        var a = service.Endpoints[0];
        var b = service.Endpoints[1];

        service.OnEndpoints([E("10.0.0.2:80"), E("10.0.0.1:80")]);

        Assert.Same(b, service.Endpoints[0]);
        Assert.Same(a, service.Endpoints[1]);
    }

    [Fact]
    public void An_unchanged_update_publishes_nothing()
    {
        using var service = NewService();
        service.OnEndpoints([E("10.0.0.1:80"), E("10.0.0.2:80")]);
        var snapshot = service.Endpoints;

        service.OnEndpoints([E("10.0.0.1:80"), E("10.0.0.2:80")]);

        Assert.Same(snapshot, service.Endpoints);
    }

    [Fact]
    public void A_resolver_error_keeps_the_last_good_set_and_the_next_success_clears_it()
    {
        using var service = NewService();
        service.OnEndpoints([E("10.0.0.1:80")]);
        var snapshot = service.Endpoints;

        service.OnError(new InvalidOperationException("dns down"));

        Assert.Same(snapshot, service.Endpoints);
        Assert.Equal("dns down", service.LastError!.Message);
        service.OnEndpoints([E("10.0.0.1:80")]);
        Assert.Null(service.LastError);
    }
}
