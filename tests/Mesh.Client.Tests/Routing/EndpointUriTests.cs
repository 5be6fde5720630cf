using Mesh.Client.Resilience;

namespace Mesh.Client.Tests.Routing;

public sealed class EndpointUriTests
{
    [Fact]
    public void A_repeated_request_reuses_its_rewritten_uri_and_each_endpoint_has_its_own()
    {
        var a = new MeshEndpoint("http", "10.0.0.1", 8080);
        var b = new MeshEndpoint("https", "10.0.0.2", 8443);
        var first = EndpointUri.Rewrite(new Uri("http://catalog/items/42?view=full"), a);

        Assert.Equal("http://10.0.0.1:8080/items/42?view=full", first.AbsoluteUri);
        Assert.Same(first, EndpointUri.Rewrite(new Uri("http://catalog/items/42?view=full"), a));
        Assert.Equal("https://10.0.0.2:8443/items/42?view=full", EndpointUri.Rewrite(new Uri("http://catalog/items/42?view=full"), b).AbsoluteUri);
        Assert.Equal("http://10.0.0.1:8080/items/43", EndpointUri.Rewrite(new Uri("http://catalog/items/43"), a).AbsoluteUri);
    }

    [Fact]
    public void The_cache_keeps_at_most_its_capacity_and_later_paths_are_still_rewritten()
    {
        var endpoint = new MeshEndpoint("http", "10.0.0.1", 8080);
        for (int i = 0; i < EndpointUri.CacheCapacity * 2; i++)
        {
            Assert.Equal($"http://10.0.0.1:8080/items/{i}", EndpointUri.Rewrite(new Uri($"http://catalog/items/{i}"), endpoint).AbsoluteUri);
        }

        Assert.Equal(EndpointUri.CacheCapacity, endpoint.RewrittenUris.Count);
    }
}
