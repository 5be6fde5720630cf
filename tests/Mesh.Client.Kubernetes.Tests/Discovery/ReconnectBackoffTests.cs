using Mesh.Client.Kubernetes.Discovery;

namespace Mesh.Client.Kubernetes.Tests.Discovery;

public sealed class ReconnectBackoffTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(0, 0.5, 1)]
    [InlineData(1, 1, 2)]
    [InlineData(3, 4, 8)]
    [InlineData(5, 15, 30)]
    [InlineData(50, 15, 30)]
    public void Delay_doubles_per_attempt_is_capped_and_jitters_between_half_and_all(int attempt, double minSeconds, double maxSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(minSeconds), ReconnectBackoff.Delay(attempt, Initial, Max, random: 0));
        Assert.Equal(TimeSpan.FromSeconds(maxSeconds), ReconnectBackoff.Delay(attempt, Initial, Max, random: 1));
        var middle = ReconnectBackoff.Delay(attempt, Initial, Max, random: 0.5);
        Assert.InRange(middle, TimeSpan.FromSeconds(minSeconds), TimeSpan.FromSeconds(maxSeconds));
    }
}
