using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Discovery;

public sealed class EndpointPriorityTests
{
    private static Endpoint E(int port, int priority) => new("http", "10.0.0.1", port, priority: priority);

    [Fact]
    public void Keeps_only_the_lowest_level_that_has_an_available_endpoint()
    {
        Endpoint[] members = [E(1, 2), E(2, 1), E(3, 1), E(4, 0)];
        Span<bool> available = [true, true, false, false]; // level 0 has none available

        int kept = EndpointPriority.KeepPreferredLevel(members, available, 2);

        Assert.Equal(1, kept);
        Assert.Equal([false, true, false, false], available.ToArray());
    }

    [Fact]
    public void One_level_is_left_as_it_is()
    {
        Endpoint[] members = [E(1, 3), E(2, 3)];
        Span<bool> available = [true, false];

        Assert.Equal(1, EndpointPriority.KeepPreferredLevel(members, available, 1));
        Assert.Equal([true, false], available.ToArray());
    }

    [Fact]
    public void Panic_marks_every_member_of_the_lowest_level()
    {
        Endpoint[] members = [E(1, 1), E(2, 0), E(3, 0)];
        Span<bool> flags = stackalloc bool[3];

        EndpointPriority.MarkLowestLevel(members, flags);

        Assert.Equal([false, true, true], flags.ToArray());
    }
}

public sealed class ResolverBackoffTests
{
    [Theory]
    [InlineData(1, 0.0, 0.8)]
    [InlineData(1, 0.5, 1.0)]
    [InlineData(2, 0.5, 2.0)]
    [InlineData(3, 0.999999, 4.8)]
    [InlineData(5, 0.5, 16.0)]
    [InlineData(6, 0.0, 25.6)]
    [InlineData(6, 0.5, 30.0)] // 32 s capped
    [InlineData(40, 0.0, 30.0)] // no overflow however many failures
    public void Doubles_from_one_second_with_twenty_percent_jitter_capped_at_thirty(int failures, double random, double expectedSeconds)
    {
        var delay = ResolverBackoff.Delay(failures, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), random);
        Assert.Equal(expectedSeconds, delay.TotalSeconds, precision: 4);
    }
}
