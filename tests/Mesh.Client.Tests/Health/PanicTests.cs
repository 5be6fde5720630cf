using Mesh.Client.Health;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Health;

public sealed class PanicTests
{
    private static void MarkActive(HealthTestKit kit, int index, HealthOpinion opinion)
    {
        kit.Members[index].Health.SetActive(opinion);
        kit.State.OnHealthChanged();
    }

    [Fact]
    public void Below_half_available_the_service_enters_panic_and_routes_to_all_then_exits_when_enough_recover()
    {
        using var kit = new HealthTestKit(4);

        MarkActive(kit, 0, HealthOpinion.Unhealthy);
        MarkActive(kit, 1, HealthOpinion.Unhealthy);
        Assert.False(kit.State.Endpoints.IsPanic); // 2 of 4 = 50 %: not below the threshold
        Assert.Equal(2, kit.State.Endpoints.Routable.Length);

        MarkActive(kit, 2, HealthOpinion.Unhealthy);
        Assert.True(kit.State.Endpoints.IsPanic);
        Assert.Equal(4, kit.State.Endpoints.Routable.Length);
        var entered = Assert.Single(kit.Transitions, t => t.Kind == HealthTransitionKind.PanicEntered);
        Assert.Equal(1, entered.Available);
        Assert.Equal(4, entered.Members);

        kit.State.OnHealthChanged(); // republishing without a change publishes no second transition
        Assert.Equal(1, kit.Count(HealthTransitionKind.PanicEntered));

        MarkActive(kit, 2, HealthOpinion.Healthy);
        Assert.False(kit.State.Endpoints.IsPanic);
        Assert.Equal(2, kit.State.Endpoints.Routable.Length);
        Assert.Equal(1, kit.Count(HealthTransitionKind.PanicExited));
    }

    [Fact]
    public void A_zero_threshold_panics_only_when_none_is_available()
    {
        using var kit = new HealthTestKit(3, o => o.Panic.ThresholdPercent = 0);
        MarkActive(kit, 0, HealthOpinion.Unhealthy);
        MarkActive(kit, 1, HealthOpinion.Unhealthy);
        Assert.False(kit.State.Endpoints.IsPanic);
        Assert.Single(kit.State.Endpoints.Routable.ToArray());

        MarkActive(kit, 2, HealthOpinion.Unhealthy);
        Assert.True(kit.State.Endpoints.IsPanic);
        Assert.Equal(3, kit.State.Endpoints.Routable.Length);
    }

    [Fact]
    public void Fail_fast_mode_keeps_routing_to_available_endpoints_only()
    {
        using var kit = new HealthTestKit(4, o => o.Panic.Mode = PanicMode.FailFast);
        MarkActive(kit, 0, HealthOpinion.Unhealthy);
        MarkActive(kit, 1, HealthOpinion.Unhealthy);
        MarkActive(kit, 2, HealthOpinion.Unhealthy);

        Assert.Equal(1, kit.Count(HealthTransitionKind.PanicEntered));
        Assert.False(kit.State.Endpoints.IsPanic);
        Assert.Same(kit.Members[3], Assert.Single(kit.State.Endpoints.Routable.ToArray()));

        MarkActive(kit, 3, HealthOpinion.Unhealthy);
        Assert.True(kit.State.Endpoints.Routable.IsEmpty);
    }

    [Fact]
    public async Task Waiting_for_a_routable_endpoint_ends_when_one_becomes_available()
    {
        using var kit = new HealthTestKit(2, o => o.Panic.Mode = PanicMode.FailFast);
        MarkActive(kit, 0, HealthOpinion.Unhealthy);
        MarkActive(kit, 1, HealthOpinion.Unhealthy);

        var wait = kit.State.WaitForRoutableAsync(TimeSpan.FromSeconds(3), CancellationToken.None);
        Assert.False(wait.IsCompleted);
        MarkActive(kit, 1, HealthOpinion.Healthy);

        Assert.True(await wait.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Waiting_for_a_routable_endpoint_gives_up_after_the_timeout()
    {
        using var kit = new HealthTestKit(2, o => o.Panic.Mode = PanicMode.FailFast);
        MarkActive(kit, 0, HealthOpinion.Unhealthy);
        MarkActive(kit, 1, HealthOpinion.Unhealthy);

        var wait = kit.State.WaitForRoutableAsync(TimeSpan.FromSeconds(3), CancellationToken.None);
        kit.Time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(wait.IsCompleted);
        kit.Time.Advance(TimeSpan.FromSeconds(0.1));

        Assert.False(await wait.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
