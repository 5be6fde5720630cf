using System.Net;

namespace WebSdkConsumer;

/// <summary>
/// A custom resolver and a custom balancer, written against the public API only, carry real requests from an
/// <c>HttpClient</c> with <c>AddMeshHandler()</c> to three Kestrel backends on 127.0.0.1.
/// </summary>
public sealed class CustomExtensionPointTests : IAsyncLifetime
{
    private readonly List<CountingBackend> _backends = [];
    private readonly FixedEndpoints _endpoints = new();
    private IHost? _client;

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await CountingBackend.StartAsync($"b{i}"));
        }

        var addresses = _backends.Select(b => EndpointAddress.Parse(b.Address.GetLeftPart(UriPartial.Authority))).ToArray();
        _endpoints.Services["inventory"] = addresses;
        _endpoints.Services["catalog"] = addresses;

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{MeshClientOptions.SectionName}:Services:inventory:Balancer"] = SecondEndpointBalancerFactory.BalancerName,
            [$"{MeshClientOptions.SectionName}:Services:catalog:Balancer"] = BalancerNames.RoundRobin,
        });
        builder.Services.AddSingleton(_endpoints);
        builder.Services.AddMeshClient()
            .AddResolver<FixedEndpointResolver>()
            .AddLoadBalancer<SecondEndpointBalancerFactory>();
        builder.Services.AddHttpClient("inventory", c => c.BaseAddress = new Uri("http://inventory")).AddMeshHandler();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        _client = builder.Build();
        await _client.StartAsync(); // validates Mesh:Services:*:Balancer against the registered names
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }

        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private SecondEndpointBalancerFactory Balancers =>
        _client!.Services.GetServices<ILoadBalancerFactory>().OfType<SecondEndpointBalancerFactory>().Single();

    private HttpClient Client(string name) => _client!.Services.GetRequiredService<IHttpClientFactory>().CreateClient(name);

    [Fact]
    public async Task Configuration_selects_the_custom_balancer_and_every_request_goes_to_the_second_endpoint_the_custom_resolver_published()
    {
        var client = Client("inventory");

        for (int i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("b1", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal([0, 20, 0], _backends.Select(b => b.Count));
        Assert.Equal(20, Balancers.Picks);
        Assert.Equal(["inventory"], Balancers.Services);
        Assert.Contains("inventory", _endpoints.Watched);

        var service = Assert.Single(_client!.Services.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);
        Assert.Equal("inventory", service.ServiceName);
        Assert.Equal(SecondEndpointBalancerFactory.BalancerName, service.Balancer);
        Assert.Equal(FixedEndpointResolver.ResolverName, service.Resolver);
        Assert.Equal(_backends.Select(b => $"http://127.0.0.1:{b.Address.Port}"), service.Endpoints.Select(e => e.Key));
    }

    [Fact]
    public async Task A_service_configured_with_a_built_in_balancer_does_not_use_the_custom_one()
    {
        var client = Client("catalog");

        for (int i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal([10, 10, 10], _backends.Select(b => b.Count));
        Assert.Equal(0, Balancers.Picks);
        Assert.Empty(Balancers.Services);
        Assert.Contains("catalog", _endpoints.Watched);
    }
}
