using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Routing;

public sealed class ServiceStateTests
{
    private static ServiceState NewState() =>
        new("client", new EndpointQuery("catalog", ["http"]), new MeshServiceOptions(), new RoundRobinBalancer(),
            new FakeTimeProvider(), NullLogger.Instance);

    [Fact]
    public void An_endpoint_in_consecutive_snapshots_keeps_its_live_state()
    {
        using var state = NewState();
        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1"), EndpointAddress.Parse("127.0.0.1:2")]);
        var first = state.Endpoints[0];
        first.Begin(state.TimeProvider);

        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1"), EndpointAddress.Parse("127.0.0.1:3")]);

        Assert.Same(first, state.Endpoints[0]);
        Assert.Equal(1, state.Endpoints[0].Load.InFlight);
        Assert.Equal(0, state.Endpoints[1].Load.InFlight);
        Assert.Equal(["http://127.0.0.1:1", "http://127.0.0.1:3"], state.Endpoints.Select(e => e.Key));
    }

    [Fact]
    public void A_reweighted_endpoint_carries_its_load_and_health_into_the_new_description()
    {
        using var state = NewState();
        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1")]);
        var before = state.Endpoints[0];
        var snapshot = state.Endpoints;
        var lease = before.Begin(state.TimeProvider);

        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1", weight: 5)]);

        var after = state.Endpoints[0];
        Assert.NotSame(snapshot, state.Endpoints); // republished, so weighted balancers rebuild
        Assert.Same(before, after);
        Assert.Equal(5, after.Address.Weight);
        Assert.Equal(1, after.InFlight);
        lease.Complete(AttemptOutcome.Success);
    }

    [Fact]
    public void A_removed_endpoint_finishes_its_in_flight_attempt()
    {
        using var state = NewState();
        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1")]);
        var removed = state.Endpoints[0];
        var lease = removed.Begin(state.TimeProvider);

        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:2")]);
        lease.Complete(AttemptOutcome.Success);

        Assert.Equal(0, removed.Load.InFlight);
        Assert.Equal(1, removed.Load.Completed);
        Assert.Null(state.Endpoints.Find(removed.Key));
    }

    [Fact]
    public void An_error_keeps_the_last_good_snapshot_and_the_next_good_one_clears_it()
    {
        using var state = NewState();
        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1")]);
        var good = state.Endpoints;

        state.OnError(new InvalidOperationException("resolver down"));

        Assert.Same(good, state.Endpoints);
        Assert.Equal("resolver down", state.LastError?.Message);
        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1")]);
        Assert.Null(state.LastError);
    }

    [Fact]
    public void When_no_endpoint_is_available_every_endpoint_is_routable_in_panic()
    {
        using var state = NewState();
        state.OnEndpoints([EndpointAddress.Parse("127.0.0.1:1"), EndpointAddress.Parse("127.0.0.1:2")]);

        state.Endpoints[0].Health.SetPassive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        Assert.Equal(["http://127.0.0.1:2"], state.Endpoints.Routable.ToArray().Select(e => e.Key));
        Assert.False(state.Endpoints.IsPanic);

        state.Endpoints[1].Health.SetActive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        Assert.True(state.Endpoints.IsPanic);
        Assert.Equal(2, state.Endpoints.Routable.Length);
    }

    [Fact]
    public void The_first_snapshot_completes_first_resolution_even_when_empty()
    {
        using var state = NewState();
        Assert.False(state.FirstResolution.IsCompleted);

        state.OnEndpoints([]);

        Assert.True(state.FirstResolution.IsCompletedSuccessfully);
        Assert.True(state.IsResolved);
        Assert.Empty(state.Endpoints);
    }
}
