using System.Collections.Concurrent;
using System.Net;
using Mesh.Client.Health;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Health;

public sealed class HeartbeatProberTests
{
    /// <summary>Answers probes synchronously with the status set per host; counts probes per host.</summary>
    private sealed class ScriptedHandler : HttpMessageHandler
    {
        public ConcurrentDictionary<string, HttpStatusCode> Status { get; } = new();

        public ConcurrentDictionary<string, int> Probes { get; } = new();

        public ConcurrentDictionary<string, bool> Hang { get; } = new();

        public List<string> Paths { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string host = request.RequestUri!.Host;
            Probes.AddOrUpdate(host, 1, (_, n) => n + 1);
            lock (Paths)
            {
                Paths.Add(request.RequestUri.PathAndQuery);
            }

            if (Hang.GetValueOrDefault(host))
            {
                // Ends only when cancelled, synchronously on the cancelling thread (the manual clock's Advance).
                var hung = new TaskCompletionSource<HttpResponseMessage>();
                cancellationToken.Register(() => hung.TrySetCanceled(cancellationToken));
                return hung.Task;
            }

            return Task.FromResult(new HttpResponseMessage(Status.GetValueOrDefault(host, HttpStatusCode.OK)));
        }
    }

    private static HealthTestKit Kit(ScriptedHandler handler, int endpoints = 4) =>
        new(endpoints, o =>
        {
            o.HealthCheck.Path = "/healthz";
            o.Panic.ThresholdPercent = 0;
        }, () => handler);

    [Fact]
    public void Every_endpoint_is_probed_at_once_when_it_appears()
    {
        var handler = new ScriptedHandler();
        using var kit = Kit(handler);

        Assert.All(kit.Members, m => Assert.Equal(1, handler.Probes.GetValueOrDefault(m.Host)));
        Assert.All(handler.Paths, p => Assert.Equal("/healthz", p));
        Assert.All(kit.Members, m => Assert.Equal(HealthOpinion.Healthy, m.Health.Active));
    }

    [Fact]
    public void Two_failed_probes_mark_an_endpoint_unhealthy_and_one_success_marks_it_healthy_again()
    {
        var handler = new ScriptedHandler();
        handler.Status["10.0.0.2"] = HttpStatusCode.ServiceUnavailable;
        using var kit = Kit(handler);
        var sick = kit.Members[1];

        Assert.NotEqual(HealthOpinion.Unhealthy, sick.Health.Active); // one failure is not enough
        Assert.True(kit.IsRoutable(sick));

        kit.Time.Advance(TimeSpan.FromSeconds(10)); // the second probe comes within one interval
        Assert.Equal(2, handler.Probes["10.0.0.2"]);
        Assert.Equal(HealthOpinion.Unhealthy, sick.Health.Active);
        Assert.False(kit.IsRoutable(sick));
        Assert.Equal(1, kit.Count(HealthTransitionKind.ActiveUnhealthy));

        handler.Status["10.0.0.2"] = HttpStatusCode.OK;
        kit.Time.Advance(TimeSpan.FromSeconds(10)); // and every interval after that
        Assert.Equal(3, handler.Probes["10.0.0.2"]);
        Assert.Equal(HealthOpinion.Healthy, sick.Health.Active);
        Assert.True(kit.IsRoutable(sick));
    }

    [Fact]
    public void Probes_are_spread_over_the_interval_rather_than_sent_together()
    {
        var handler = new ScriptedHandler();
        using var kit = Kit(handler, endpoints: 10);

        // After the first probe, each endpoint's second falls at a random point of the interval.
        kit.Time.Advance(TimeSpan.FromSeconds(5));
        int probedAgain = kit.Members.Count(m => handler.Probes[m.Host] == 2);
        Assert.InRange(probedAgain, 1, 9);
    }

    [Fact]
    public async Task A_probe_that_does_not_answer_within_the_timeout_counts_as_failed()
    {
        var handler = new ScriptedHandler();
        handler.Hang["10.0.0.1"] = true;
        using var kit = Kit(handler);
        var hung = kit.Members[0];
        var finished = new SemaphoreSlim(0);
        kit.State.Prober!.ProbeFinished += e =>
        {
            if (ReferenceEquals(e, hung))
            {
                finished.Release();
            }
        };

        kit.Time.Advance(TimeSpan.FromSeconds(5)); // the first probe times out
        Assert.True(await finished.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.NotEqual(HealthOpinion.Unhealthy, hung.Health.Active);

        kit.Time.Advance(TimeSpan.FromSeconds(10)); // the second probe starts within one interval
        kit.Time.Advance(TimeSpan.FromSeconds(5)); // and times out
        Assert.True(await finished.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(2, handler.Probes["10.0.0.1"]);
        Assert.Equal(HealthOpinion.Unhealthy, hung.Health.Active);
        Assert.Contains("timed out", kit.Last(HealthTransitionKind.ActiveUnhealthy).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_successful_heartbeat_readmits_an_endpoint_probing_after_its_ejection()
    {
        var handler = new ScriptedHandler();
        using var kit = new HealthTestKit(10, o => o.HealthCheck.Path = "/healthz", () => handler);
        var victim = kit.Members[0];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        Assert.Equal(EjectionPhase.Ejected, victim.Health.Phase);

        kit.Time.Advance(TimeSpan.FromSeconds(30));
        kit.Time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(EjectionPhase.None, victim.Health.Phase);
        Assert.Contains(kit.Transitions, t => t.Kind == HealthTransitionKind.Readmitted && t.Reason.Contains("heartbeat", StringComparison.Ordinal));
    }

    [Fact]
    public void Removed_endpoints_and_a_disposed_service_are_no_longer_probed()
    {
        var handler = new ScriptedHandler();
        var kit = Kit(handler);
        kit.State.OnEndpoints(kit.Members[..2]);
        kit.Time.Advance(TimeSpan.FromSeconds(30));
        int removedProbes = handler.Probes["10.0.0.3"];
        Assert.Equal(1, removedProbes);

        kit.Dispose();
        int before = handler.Probes.Values.Sum();
        kit.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(before, handler.Probes.Values.Sum());
    }

    [Fact]
    public void A_new_endpoint_is_probed_at_once()
    {
        var handler = new ScriptedHandler();
        using var kit = Kit(handler);
        kit.Time.Advance(TimeSpan.FromSeconds(3));
        var joiner = new EndpointAddress("http", "10.0.0.77", 80);

        kit.State.OnEndpoints([.. kit.Members.Select(m => m.Address), joiner]);

        Assert.Equal(1, handler.Probes["10.0.0.77"]);
    }
}
