using Mesh.Client.Discovery;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Routing;

public sealed class RegistrationTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("only");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    public sealed class CatalogClient(HttpClient http)
    {
        public Task<string> GetAsync() => http.GetStringAsync(new Uri("/items", UriKind.Relative));
    }

    [Fact]
    public async Task A_typed_client_goes_through_the_mesh()
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", _backend.Address);
        services.AddHttpClient<CatalogClient>(c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var provider = services.BuildServiceProvider();

        Assert.Equal("only", await provider.GetRequiredService<CatalogClient>().GetAsync());
    }

    [Fact]
    public async Task ConfigureHttpClientDefaults_puts_the_mesh_into_every_client()
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", _backend.Address);
        services.ConfigureHttpClientDefaults(b => b.AddMeshHandler());
        services.AddHttpClient("a");
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();

        Assert.Equal("only", await factory.CreateClient("a").GetStringAsync(new Uri("http://catalog/x")));
        Assert.Equal("only", await factory.CreateClient("b").GetStringAsync(new Uri("http://catalog/y")));
        Assert.Equal(2, _backend.Count);
    }

    [Fact]
    public async Task Calling_AddMeshClient_and_AddMeshHandler_twice_adds_each_part_once()
    {
        var services = new ServiceCollection();
        services.AddMeshClient();
        services.AddMeshClient().AddStaticEndpoints("catalog", _backend.Address);
        services.AddHttpClient("c", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler().AddMeshHandler();
        using var provider = services.BuildServiceProvider();

        var resolvers = provider.GetServices<IEndpointResolver>().Select(r => r.Name).ToArray();
        Assert.Equal(["configuration", "static"], resolvers);
        var handlerBuilder = provider.GetRequiredService<HttpMessageHandlerBuilder>();
        handlerBuilder.Name = "c";
        foreach (var action in provider.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>().Get("c").HttpMessageHandlerBuilderActions)
        {
            action(handlerBuilder);
        }

        Assert.Single(handlerBuilder.AdditionalHandlers, h => h.GetType().Name == "MeshHandler");
        Assert.Equal("only", await provider.GetRequiredService<IHttpClientFactory>().CreateClient("c").GetStringAsync(new Uri("/z", UriKind.Relative)));
    }

    [Fact]
    public async Task Each_client_keeps_its_own_balancer_for_the_same_service()
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", _backend.Address);
        services.AddHttpClient("one", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        services.AddHttpClient("two", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler(o => o.Balancer = BalancerNames.Random);
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();

        await factory.CreateClient("one").GetStringAsync(new Uri("/1", UriKind.Relative));
        await factory.CreateClient("two").GetStringAsync(new Uri("/2", UriKind.Relative));

        var states = provider.GetRequiredService<Mesh.Client.Routing.ServiceRegistry>().All.OrderBy(s => s.ClientName).ToArray();
        Assert.Equal(["one", "two"], states.Select(s => s.ClientName));
        Assert.IsType<Mesh.Client.Balancing.RandomBalancer>(states[1].Balancer);
        Assert.IsNotType<Mesh.Client.Balancing.RandomBalancer>(states[0].Balancer);
    }
}
