using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Discovery;

public sealed class EndpointSetTests
{
    [Fact]
    public void Duplicates_are_kept_once_in_resolver_order()
    {
        var set = new EndpointSet([EndpointAddress.Parse("127.0.0.1:2").Live(), EndpointAddress.Parse("127.0.0.1:1").Live(), EndpointAddress.Parse("http://127.0.0.1:2").Live()]);

        Assert.Equal(["http://127.0.0.1:2", "http://127.0.0.1:1"], set.Select(e => e.Key));
        Assert.Equal(2, set.Routable.Length);
    }

    [Fact]
    public void WithRoutable_keeps_membership_and_narrows_the_routable_subset()
    {
        var set = new EndpointSet([EndpointAddress.Parse("127.0.0.1:1").Live(), EndpointAddress.Parse("127.0.0.1:2").Live(), EndpointAddress.Parse("127.0.0.1:3").Live()]);

        var narrowed = set.WithRoutable([true, false, true], isPanic: false);

        Assert.Equal(set.MembershipVersion, narrowed.MembershipVersion);
        Assert.Equal(3, narrowed.Count);
        Assert.Equal(["http://127.0.0.1:1", "http://127.0.0.1:3"], narrowed.Routable.ToArray().Select(e => e.Key));
        Assert.False(narrowed.IsRoutable(1));
        Assert.NotEqual(set.MembershipVersion, new EndpointSet(set).MembershipVersion);
        Assert.Throws<ArgumentException>(() => set.WithRoutable([true], isPanic: false));
    }
}
