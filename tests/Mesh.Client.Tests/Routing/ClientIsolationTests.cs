using System.Net;
using Mesh.Client.Discovery.Dns;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Discovery.Dns;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Two clients of one service share the resolver's watch (one DNS lookup, one Kubernetes watch) and nothing else: each
/// keeps its own record of every endpoint, so load, latency and health learned by one never reach the other.
/// </summary>
public sealed class ClientIsolationTests
{
    [Fact]
    public async Task Two_clients_of_one_dns_service_share_the_lookup_but_no_endpoint_state()
    {
        var (backends, port) = await StartOnTwoLoopbackAddressesAsync();
        await using var first = backends[0];
        await using var second = backends[1];
        await using var dns = await DnsmasqServer.StartAsync(new Dictionary<string, string[]> { ["catalog"] = ["127.0.0.2", "127.0.0.3"] });
        var services = new ServiceCollection();
        services.AddMeshClient().AddDns(o =>
        {
            o.Servers.Add(dns.Server);
            o.Services["catalog"] = new DnsServiceOptions { HostName = "catalog.mesh.test", Port = port };
        });
        foreach (var name in new[] { "a", "b" })
        {
            services.AddHttpClient(name, c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler(o =>
            {
                o.Balancer = BalancerNames.RoundRobin;
                o.Retry.Enabled = false;
            });
        }

        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        await SendAsync(factory.CreateClient("a"), 4);
        await SendAsync(factory.CreateClient("b"), 2);

        var registry = provider.GetRequiredService<ServiceRegistry>();
        var inA = StateOf(registry, "a").Endpoints.ToArray();
        var inB = StateOf(registry, "b").Endpoints.ToArray();
        Assert.Equal(2, inA.Length);
        for (int i = 0; i < 2; i++)
        {
            var b = StateOf(registry, "b").Endpoints.Find(inA[i].Key)!;
            Assert.Same(inA[i].Address, b.Address); // one lookup, one published address
            Assert.NotSame(inA[i], b);
            Assert.NotSame(inA[i].Load, b.Load);
            Assert.NotSame(inA[i].Health, b.Health);
            Assert.Equal(2, inA[i].Load.Completed);
            Assert.Equal(1, b.Load.Completed);
        }

        // An ejection by one client is that client's opinion and routing only.
        var ejected = inA[0];
        ejected.Health.MarkEjected(1, long.MaxValue);
        StateOf(registry, "a").OnHealthChanged();
        Assert.Equal([inA[1].Key], StateOf(registry, "a").Endpoints.Routable.ToArray().Select(e => e.Key));
        Assert.Equal(2, StateOf(registry, "b").Endpoints.Routable.Length);
        Assert.Equal(HealthOpinion.Unknown, StateOf(registry, "b").Endpoints.Find(ejected.Key)!.Health.Passive);
    }

    private static async Task SendAsync(HttpClient client, int count)
    {
        for (int i = 0; i < count; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }
    }

    /// <summary>Two backends on 127.0.0.2 and 127.0.0.3, one port, as a headless service's pods share a port.</summary>
    private static async Task<(TestBackend[] Backends, int Port)> StartOnTwoLoopbackAddressesAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            var first = await TestBackend.StartAsync("b2", listenOn: new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
            try
            {
                var second = await TestBackend.StartAsync("b3", listenOn: new IPEndPoint(IPAddress.Parse("127.0.0.3"), first.Port));
                return ([first, second], first.Port);
            }
            catch (IOException) when (attempt < 5)
            {
                await first.DisposeAsync(); // that port was taken on the second address: start over on another
            }
        }
    }

    private static ServiceState StateOf(ServiceRegistry registry, string client)
    {
        Assert.True(registry.GetClient(client).TryGet(new RouteKey("http", "catalog"), out var state));
        return state;
    }
}
