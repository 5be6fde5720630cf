using Mesh.Client.Health;

namespace Mesh.Client.Tests.Health;

/// <summary>The routable-set rule (priority levels, then panic) as the pure function it is.</summary>
public sealed class RoutableSetTests
{
    private static MeshEndpoint E(int port, int priority, bool available = true)
    {
        var endpoint = new MeshEndpoint("http", "10.0.0.1", port, priority: priority);
        if (!available)
        {
            endpoint.Health.SetPassive(HealthOpinion.Unhealthy);
        }

        return endpoint;
    }

    private static (bool[] Routable, bool Below, bool Panic, int Available) Compute(MeshEndpoint[] members, double threshold = 50,
        PanicMode mode = PanicMode.RouteToAll)
    {
        var routable = new bool[members.Length];
        var (below, panic) = RoutableSet.Compute(members, routable, new PanicOptions { ThresholdPercent = threshold, Mode = mode }, out int available);
        return (routable, below, panic, available);
    }

    [Fact]
    public void The_lowest_level_with_an_available_endpoint_takes_the_traffic()
    {
        MeshEndpoint[] members = [E(1, 2), E(2, 1), E(3, 1, available: false), E(4, 0, available: false)];

        var result = Compute(members, threshold: 0);

        Assert.Equal([false, true, false, false], result.Routable);
        Assert.Equal(1, result.Available);
        Assert.False(result.Panic);
    }

    [Fact]
    public void One_level_routes_to_its_available_members()
    {
        MeshEndpoint[] members = [E(1, 3), E(2, 3), E(3, 3, available: false)];

        var result = Compute(members);

        Assert.Equal([true, true, false], result.Routable);
        Assert.False(result.Below);
    }

    [Fact]
    public void Below_the_threshold_every_member_of_the_level_is_routable()
    {
        MeshEndpoint[] members = [E(1, 0), E(2, 0, available: false), E(3, 0, available: false), E(4, 1)];

        var result = Compute(members, threshold: 50);

        Assert.Equal([true, true, true, false], result.Routable);
        Assert.True(result.Below);
        Assert.True(result.Panic);
    }

    [Fact]
    public void Below_the_threshold_fail_fast_keeps_only_the_available_ones()
    {
        MeshEndpoint[] members = [E(1, 0), E(2, 0, available: false), E(3, 0, available: false)];

        var result = Compute(members, threshold: 50, mode: PanicMode.FailFast);

        Assert.Equal([true, false, false], result.Routable);
        Assert.True(result.Below);
        Assert.False(result.Panic);
    }

    [Fact]
    public void With_nothing_available_panic_routes_to_the_whole_lowest_level()
    {
        MeshEndpoint[] members = [E(1, 1, available: false), E(2, 0, available: false), E(3, 0, available: false)];

        var result = Compute(members);

        Assert.Equal([false, true, true], result.Routable);
        Assert.Equal(0, result.Available);
        Assert.True(result.Panic);
    }
}
