using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Kubernetes.Tests.Discovery;

/// <summary>Reconnect delays, driven by a <see cref="FakeTimeProvider"/>: a failing API server is retried later and later, never in a tight loop.</summary>
public sealed class ReconnectTimingTests : IAsyncLifetime
{
    private KubernetesTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await KubernetesTestCluster.StartAsync();
        _cluster.Api.AddService("default", "catalog");
        _cluster.Api.SetSlice("default", "catalog", "catalog-abc", [new FakeEndpoint("10.0.0.1")]);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Failures_back_off_with_growing_jittered_delays_and_only_when_the_clock_says_so()
    {
        var manual = new FakeTimeProvider();
        var clock = new ObservedClock(manual);
        var api = _cluster.Api;
        api.Unavailable = true;
        using var resolver = _cluster.CreateResolver(o =>
        {
            o.ReconnectDelay = TimeSpan.FromSeconds(1);
            o.MaxReconnectDelay = TimeSpan.FromSeconds(4);
        }, timeProvider: clock);
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);

        var expected = new[] { (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0) };
        for (int attempt = 0; attempt < expected.Length; attempt++)
        {
            await clock.TimerCreated.WaitUntilAsync(() => clock.Delays.Count == attempt + 1, $"reconnect delay #{attempt + 1}");
            Assert.Equal(attempt + 1, api.UnavailableAnswers);
            var delay = clock.Delays.ToArray()[attempt];
            Assert.InRange(delay.TotalSeconds, expected[attempt].Item1, expected[attempt].Item2);

            manual.Advance(delay - TimeSpan.FromMilliseconds(1));
            Assert.Equal(attempt + 1, api.UnavailableAnswers); // not yet: the delay has not passed
            manual.Advance(TimeSpan.FromMilliseconds(1));
            await api.Changed.WaitUntilAsync(() => api.UnavailableAnswers == attempt + 2, $"attempt #{attempt + 2}");
        }

        api.Unavailable = false;
        await clock.TimerCreated.WaitUntilAsync(() => clock.Delays.Count == expected.Length + 1, "the last reconnect delay");
        manual.Advance(TimeSpan.FromSeconds(4));
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
    }
}
