using System.Net;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Fail fast: a service with nowhere to send waits a bounded time on the clock, or not at all, then throws.</summary>
public sealed class FailFastTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(2);

    /// <summary>One endpoint, ejected by its first failure for exactly 30 s; panic routes to available endpoints only.</summary>
    private static async Task<RequestPathHost> HostWithEveryEndpointEjected(TimeSpan wait)
    {
        var host = RequestPathHost.Create(o =>
        {
            o.Retry.Enabled = false;
            o.Panic.Mode = PanicMode.FailFast;
            o.PassiveHealth.ConsecutiveFailures = 1;
            o.PassiveHealth.MaxEjectionPercent = 100;
            o.PassiveHealth.EjectionJitter = 0;
            o.PassiveHealth.BaseEjectionTime = TimeSpan.FromSeconds(30);
            o.Timeouts.WaitForEndpoint = wait;
        }, endpoints: 1);
        host.Handler.Then(RequestPathHost.Addresses[0], Reply.Status(503));
        using var failed = await RequestPathHost.Within(host.Get());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.True(host.State.Endpoints.Routable.IsEmpty);
        return host;
    }

    [Fact]
    public async Task With_no_routable_endpoint_a_request_waits_WaitForEndpoint_on_the_clock_then_throws_NoEndpointsException()
    {
        using var host = await HostWithEveryEndpointEjected(s_wait);
        host.Handler.ClearAttempts();

        var request = host.Get();
        await host.Clock.WaitForTimerAsync(s_wait);
        host.Clock.Advance(s_wait - TimeSpan.FromMilliseconds(1));
        Assert.False(request.IsCompleted);

        host.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var error = await Assert.ThrowsAsync<NoEndpointsException>(() => RequestPathHost.Within(request));
        Assert.Equal("catalog", error.ServiceName);
        Assert.Contains("Timeouts:WaitForEndpoint", error.Message, StringComparison.Ordinal);
        Assert.Empty(host.Handler.Attempts);
    }

    [Fact]
    public async Task An_endpoint_that_becomes_routable_during_the_wait_takes_the_waiting_request()
    {
        using var host = await HostWithEveryEndpointEjected(TimeSpan.FromSeconds(60));
        host.Handler.ClearAttempts();

        var request = host.Get();
        await host.Clock.WaitForTimerAsync(TimeSpan.FromSeconds(60));
        host.Clock.Advance(TimeSpan.FromSeconds(30)); // the ejection ends: the endpoint probes

        using var response = await RequestPathHost.Within(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(host.Handler.Attempts);
    }

    [Fact]
    public async Task WaitForEndpoint_zero_fails_at_once()
    {
        using var host = await HostWithEveryEndpointEjected(TimeSpan.Zero);

        // The clock never moves from here: only a request that does not wait can end.
        await Assert.ThrowsAsync<NoEndpointsException>(() => RequestPathHost.Within(host.Get()));
    }

    [Fact]
    public async Task A_service_whose_resolver_published_no_endpoints_fails_at_once_without_waiting()
    {
        using var host = RequestPathHost.Create(o => o.Timeouts.WaitForEndpoint = TimeSpan.FromMinutes(1), addresses: []);

        // The clock never moves: a request waiting WaitForEndpoint could not end.
        var error = await Assert.ThrowsAsync<NoEndpointsException>(() => RequestPathHost.Within(host.Get()));

        Assert.Equal("catalog", error.ServiceName);
        Assert.DoesNotContain("WaitForEndpoint", error.Message, StringComparison.Ordinal);
        Assert.Empty(host.Handler.Attempts);
    }
}
