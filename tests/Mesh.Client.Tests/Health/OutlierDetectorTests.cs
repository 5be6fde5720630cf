using Mesh.Client.Health;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Health;

public sealed class OutlierDetectorTests
{
    [Fact]
    public void Five_consecutive_failures_eject_the_endpoint_for_the_base_time()
    {
        using var kit = new HealthTestKit(10);
        var victim = kit.Members[3];

        kit.Complete(victim, AttemptOutcome.ConnectFailure, 4);
        Assert.Equal(EjectionPhase.None, victim.Health.Phase);
        Assert.True(kit.IsRoutable(victim));

        kit.Complete(victim, AttemptOutcome.FailureStatus);

        Assert.Equal(EjectionPhase.Ejected, victim.Health.Phase);
        Assert.Equal(HealthOpinion.Unhealthy, victim.Health.Passive);
        Assert.False(kit.IsRoutable(victim));
        Assert.Equal(9, kit.State.Endpoints.Routable.Length);
        var ejected = Assert.Single(kit.Transitions, t => t.Kind == HealthTransitionKind.Ejected);
        Assert.Equal(TimeSpan.FromSeconds(30), ejected.Duration);
        Assert.Equal(1, ejected.TimesEjected);
        Assert.Same(victim, ejected.Endpoint);
    }

    [Fact]
    public void A_success_resets_the_consecutive_count()
    {
        using var kit = new HealthTestKit(10, o => o.PassiveHealth.MinimumSuccessRatePercent = 0);
        var endpoint = kit.Members[0];

        kit.Complete(endpoint, AttemptOutcome.Timeout, 4);
        kit.Complete(endpoint, AttemptOutcome.Success);
        kit.Complete(endpoint, AttemptOutcome.Timeout, 4);

        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
        Assert.Equal(4, endpoint.Health.ConsecutiveFailures);
    }

    [Fact]
    public void Caller_cancellation_is_never_counted()
    {
        using var kit = new HealthTestKit(10);
        var endpoint = kit.Members[0];

        kit.Complete(endpoint, AttemptOutcome.Canceled, 50);

        Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
        Assert.Empty(kit.Transitions);
    }

    [Fact]
    public void When_the_ejection_ends_the_endpoint_is_routable_and_probing_and_a_successful_probe_readmits_it()
    {
        using var kit = new HealthTestKit(10);
        var victim = kit.Members[1];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);

        kit.Time.Advance(TimeSpan.FromSeconds(29.9));
        Assert.Equal(EjectionPhase.Ejected, victim.Health.Phase);

        kit.Time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(EjectionPhase.Probing, victim.Health.Phase);
        Assert.True(kit.IsRoutable(victim));
        Assert.Equal(1, kit.Count(HealthTransitionKind.EjectionEnded));

        // One probe at a time: the first attempt takes the slot, a second is refused until the first ends.
        Assert.True(victim.Health.TryBeginAttempt());
        Assert.False(victim.Health.TryBeginAttempt());

        kit.Complete(victim, AttemptOutcome.Success);

        Assert.Equal(EjectionPhase.None, victim.Health.Phase);
        Assert.Equal(HealthOpinion.Healthy, victim.Health.Passive);
        Assert.True(victim.Health.TryBeginAttempt());
        Assert.Equal(1, kit.Count(HealthTransitionKind.Readmitted));
    }

    [Fact]
    public void A_cancelled_probe_releases_the_probe_slot_without_a_verdict()
    {
        using var kit = new HealthTestKit(10);
        var victim = kit.Members[1];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        kit.Time.Advance(TimeSpan.FromSeconds(30));

        Assert.True(victim.Health.TryBeginAttempt());
        kit.Complete(victim, AttemptOutcome.Canceled);

        Assert.Equal(EjectionPhase.Probing, victim.Health.Phase);
        Assert.True(victim.Health.TryBeginAttempt());
    }

    [Fact]
    public void A_failed_probe_ejects_again_for_twice_the_base_time()
    {
        using var kit = new HealthTestKit(10);
        var victim = kit.Members[2];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        kit.Time.Advance(TimeSpan.FromSeconds(30));

        kit.Complete(victim, AttemptOutcome.ConnectFailure);

        Assert.Equal(EjectionPhase.Ejected, victim.Health.Phase);
        var second = kit.Last(HealthTransitionKind.Ejected);
        Assert.Equal(2, second.TimesEjected);
        Assert.Equal(TimeSpan.FromSeconds(60), second.Duration);

        kit.Time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(EjectionPhase.Ejected, victim.Health.Phase);
        kit.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(EjectionPhase.Probing, victim.Health.Phase);
    }

    [Fact]
    public void Ejection_time_grows_with_each_ejection_and_is_capped_at_the_maximum()
    {
        using var kit = new HealthTestKit(10);
        var victim = kit.Members[0];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        var durations = new List<TimeSpan> { kit.Last(HealthTransitionKind.Ejected).Duration };
        for (int i = 0; i < 11; i++)
        {
            kit.Time.Advance(durations[^1]);
            kit.Complete(victim, AttemptOutcome.ConnectFailure);
            durations.Add(kit.Last(HealthTransitionKind.Ejected).Duration);
        }

        Assert.Equal(
            new[] { 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300 },
            durations.Select(d => (int)d.TotalSeconds).ToArray());
    }

    [Fact]
    public void Ejection_time_is_jittered_within_the_configured_share()
    {
        var seen = new HashSet<TimeSpan>();
        for (int i = 0; i < 5; i++)
        {
            using var kit = new HealthTestKit(10, o => o.PassiveHealth.EjectionJitter = 0.1, seed: i);
            kit.Complete(kit.Members[i], AttemptOutcome.ConnectFailure, 5);
            var duration = kit.Last(HealthTransitionKind.Ejected).Duration;
            Assert.InRange(duration, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(33));
            seen.Add(duration);
        }

        Assert.True(seen.Count > 1, "jitter should vary the ejection time");
    }

    [Fact]
    public void The_ejection_count_decays_while_the_endpoint_stays_admitted()
    {
        using var kit = new HealthTestKit(10);
        var victim = kit.Members[0];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        kit.Time.Advance(TimeSpan.FromSeconds(30));
        kit.Complete(victim, AttemptOutcome.ConnectFailure); // second ejection: 60 s
        kit.Time.Advance(TimeSpan.FromSeconds(60));
        kit.Complete(victim, AttemptOutcome.Success); // re-admitted with 2 ejections behind it

        kit.Time.Advance(TimeSpan.FromSeconds(65)); // two base periods admitted: the count decays from 2 to 0
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);

        var third = kit.Last(HealthTransitionKind.Ejected);
        Assert.Equal(1, third.TimesEjected);
        Assert.Equal(TimeSpan.FromSeconds(30), third.Duration);
    }

    [Fact]
    public void A_success_rate_below_80_percent_over_at_least_5_requests_ejects()
    {
        using var kit = new HealthTestKit(10);
        var endpoint = kit.Members[0];

        kit.Complete(endpoint, AttemptOutcome.Success);
        kit.Complete(endpoint, AttemptOutcome.FailureStatus);
        kit.Complete(endpoint, AttemptOutcome.Success);
        kit.Complete(endpoint, AttemptOutcome.FailureStatus);
        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase); // 4 requests: too few to judge

        kit.Complete(endpoint, AttemptOutcome.Timeout); // 2 of 5 succeeded: 40 %

        Assert.Equal(EjectionPhase.Ejected, endpoint.Health.Phase);
        Assert.Contains("success rate", kit.Last(HealthTransitionKind.Ejected).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Failures_older_than_the_window_do_not_count_toward_the_success_rate()
    {
        using var kit = new HealthTestKit(10);
        var endpoint = kit.Members[0];
        kit.Complete(endpoint, AttemptOutcome.FailureStatus);
        kit.Complete(endpoint, AttemptOutcome.Success);
        kit.Complete(endpoint, AttemptOutcome.FailureStatus);
        kit.Complete(endpoint, AttemptOutcome.Success);

        kit.Time.Advance(TimeSpan.FromSeconds(40));
        kit.Complete(endpoint, AttemptOutcome.Success, 4);
        kit.Complete(endpoint, AttemptOutcome.FailureStatus); // 4 of 5 in the window succeeded: 80 %, not below

        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
    }

    [Fact]
    public void At_most_ten_percent_of_endpoints_are_ejected_at_once_but_always_at_least_one()
    {
        using var kit = new HealthTestKit(3);
        kit.Complete(kit.Members[0], AttemptOutcome.ConnectFailure, 5);
        kit.Complete(kit.Members[1], AttemptOutcome.ConnectFailure, 5);

        Assert.Equal(EjectionPhase.Ejected, kit.Members[0].Health.Phase);
        Assert.Equal(EjectionPhase.None, kit.Members[1].Health.Phase);
        Assert.Equal(1, kit.Count(HealthTransitionKind.EjectionSkipped));

        // Once the first is re-admitted there is room again.
        kit.Time.Advance(TimeSpan.FromSeconds(30));
        kit.Complete(kit.Members[0], AttemptOutcome.Success);
        kit.Complete(kit.Members[1], AttemptOutcome.ConnectFailure);
        Assert.Equal(EjectionPhase.Ejected, kit.Members[1].Health.Phase);
    }

    [Fact]
    public void With_a_ten_percent_cap_twenty_endpoints_allow_two_ejections()
    {
        using var kit = new HealthTestKit(20, o => o.PassiveHealth.MaxEjectionPercent = 10);
        for (int i = 0; i < 3; i++)
        {
            kit.Complete(kit.Members[i], AttemptOutcome.ConnectFailure, 5);
        }

        Assert.Equal(2, kit.Count(HealthTransitionKind.Ejected));
        Assert.Equal(18, kit.State.Endpoints.Routable.Length);
    }

    [Fact]
    public void By_default_up_to_half_the_endpoints_are_ejected_so_two_dead_of_eight_both_leave_rotation()
    {
        using var kit = new HealthTestKit(8);
        for (int i = 0; i < 5; i++)
        {
            kit.Complete(kit.Members[i], AttemptOutcome.ConnectFailure, 5);
        }

        Assert.Equal(4, kit.Count(HealthTransitionKind.Ejected)); // the fifth meets the cap of half
        Assert.Equal(4, kit.State.Endpoints.Routable.Length);
        Assert.False(kit.State.Endpoints.IsPanic);
    }

    [Fact]
    public void Configured_status_codes_replace_the_default_set()
    {
        var all5xx = new PassiveHealthOptions { AllServerErrorsAreFailures = true };
        var custom = new PassiveHealthOptions { FailureStatusCodes = [429] };

        Assert.True(FailureStatusSet.Default.IsFailure(503));
        Assert.False(FailureStatusSet.Default.IsFailure(500));
        Assert.True(new FailureStatusSet(all5xx.FailureStatusCodes, all5xx.AllServerErrorsAreFailures).IsFailure(500));
        Assert.True(new FailureStatusSet(custom.FailureStatusCodes, custom.AllServerErrorsAreFailures).IsFailure(429));
        Assert.False(new FailureStatusSet(custom.FailureStatusCodes, custom.AllServerErrorsAreFailures).IsFailure(503));
    }

    [Fact]
    public void Disposing_the_service_stops_pending_ejection_timers()
    {
        var kit = new HealthTestKit(10);
        kit.Complete(kit.Members[0], AttemptOutcome.ConnectFailure, 5);
        kit.Dispose();

        kit.Time.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(EjectionPhase.Ejected, kit.Members[0].Health.Phase);
        Assert.Equal(0, kit.Count(HealthTransitionKind.EjectionEnded));
    }
}
