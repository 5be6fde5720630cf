using System.Net;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Integration;

public sealed class PipelineTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await TestBackend.StartAsync($"b{i}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    [Fact]
    public async Task Round_robin_spreads_requests_evenly_over_three_backends()
    {
        using var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", _backends.Select(b => b.Address).ToArray()),
            handler: o => o.Balancer = Mesh.Client.Balancing.BalancerKind.RoundRobin);
        var client = provider.Client();

        for (int i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.All(_backends, b => Assert.Equal(10, b.Count));
    }
}
