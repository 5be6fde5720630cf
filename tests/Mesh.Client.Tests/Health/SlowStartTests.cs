using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Health;

public sealed class SlowStartTests
{
    private static long Ticks(double seconds) => TimeSpan.FromSeconds(seconds).Ticks;

    [Theory]
    [InlineData(0, 1.0, 0.10)] // the floor: min_weight_percent
    [InlineData(1, 1.0, 0.10)] // 1/60 is below the floor
    [InlineData(30, 1.0, 0.50)] // linear half-way
    [InlineData(30, 2.0, 0.7071)] // aggression 2: sqrt(0.5)
    [InlineData(15, 0.5, 0.10)] // aggression 0.5: 0.25^2 = 0.0625, floored
    [InlineData(45, 0.5, 0.5625)]
    [InlineData(60, 1.0, 1.0)] // the window's end
    [InlineData(600, 3.0, 1.0)]
    public void The_ramp_follows_envoys_formula(double seconds, double aggression, double expected)
    {
        var curve = new SlowStartCurve(TimeSpan.FromSeconds(60), aggression, minWeightPercent: 10);
        Assert.Equal(expected, curve.Factor(Ticks(seconds)), 4);
    }

    [Fact]
    public void Without_slow_start_the_effective_weight_is_the_weight()
    {
        var endpoint = new MeshEndpoint("http", "10.0.0.1", 80, weight: 3);
        Assert.Equal(3.0, endpoint.EffectiveWeight(Ticks(1)));
    }

    [Fact]
    public void An_endpoint_that_joins_a_running_service_ramps_up_and_the_first_members_do_not()
    {
        using var kit = new HealthTestKit(2, o => o.SlowStart.Window = TimeSpan.FromSeconds(60));
        long Now() => MonotonicClock.Ticks(kit.Time, kit.Time.GetTimestamp());
        kit.Time.Advance(TimeSpan.FromSeconds(10));
        var joiner = new MeshEndpoint("http", "10.0.0.9", 80, weight: 4);
        kit.State.OnEndpoints([.. kit.Members, joiner]);
        joiner = kit.State.RecordOf(joiner);

        Assert.Equal(1.0, kit.Members[0].EffectiveWeight(Now()));
        Assert.Equal(0.4, joiner.EffectiveWeight(Now()), 4); // 4 × 10 %

        kit.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(2.0, joiner.EffectiveWeight(Now()), 4); // 4 × 50 %
        Assert.Equal(Now() + Ticks(30), joiner.Health.SlowStartEndsAtTicks);

        kit.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(4.0, joiner.EffectiveWeight(Now()), 4);
    }

    [Fact]
    public void A_readmitted_endpoint_ramps_up_again()
    {
        using var kit = new HealthTestKit(10, o => o.SlowStart.Window = TimeSpan.FromSeconds(60));
        long Now() => MonotonicClock.Ticks(kit.Time, kit.Time.GetTimestamp());
        var victim = kit.Members[0];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        kit.Time.Advance(TimeSpan.FromSeconds(30));
        kit.Complete(victim, AttemptOutcome.Success);

        Assert.Equal(0.1, victim.EffectiveWeight(Now()), 4);
        kit.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(0.25, victim.EffectiveWeight(Now()), 4);
    }
}
