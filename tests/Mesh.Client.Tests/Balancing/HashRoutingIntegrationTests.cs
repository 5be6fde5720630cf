using System.Net;
using Mesh.Client.Balancing;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Hash-based routing through the whole pipeline, against real Kestrel backends on loopback.</summary>
public sealed class HashRoutingIntegrationTests : BackendFleetTests
{
    public HashRoutingIntegrationTests()
        : base(count: 4)
    {
    }

    [Theory]
    [InlineData(BalancerNames.RingHash)]
    [InlineData(BalancerNames.Maglev)]
    public async Task Requests_with_the_same_header_key_go_to_the_same_backend(string kind)
    {
        using var provider = MeshTestHost.Build(
            m => m.AddStaticEndpoints("catalog", Backends.Select(b => b.Address).ToArray()),
            handler: o =>
            {
                o.Balancer = kind;
                o.HashPolicies.Add(RequestHashPolicy.Header("x-user"));
            });
        var client = provider.Client();

        var backendOf = new Dictionary<string, string>();
        for (int round = 0; round < 3; round++)
        {
            for (int user = 0; user < 24; user++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/cart");
                request.Headers.Add("x-user", $"user-{user}");
                int[] before = Backends.Select(b => b.Count).ToArray();
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                string served = Backends.Where((b, i) => b.Count > before[i]).Single().Name;
                if (round == 0)
                {
                    backendOf[$"user-{user}"] = served;
                }
                else
                {
                    Assert.Equal(backendOf[$"user-{user}"], served);
                }
            }
        }

        Assert.True(backendOf.Values.Distinct().Count() > 1, "24 users should not all land on one backend.");
    }

    [Fact]
    public async Task The_per_request_hash_key_pins_requests_to_one_backend()
    {
        using var provider = MeshTestHost.Build(
            m => m.AddStaticEndpoints("catalog", Backends.Select(b => b.Address).ToArray()),
            handler: o => o.Balancer = BalancerNames.Maglev);
        var client = provider.Client();

        for (int i = 0; i < 20; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/cart");
            request.Options.Set(MeshRequestOptions.HashKey, "order-7");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Single(Backends, b => b.Count == 20);
    }
}
