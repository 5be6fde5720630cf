namespace Mesh.Client.Tests.Routing;

/// <summary>Mesh clients turn grpc-dotnet's own balancer off, so a GrpcChannel over them has exactly one balancer: the mesh.</summary>
public sealed class GrpcLoadBalancingFilterTests
{
    private static SocketsHttpHandler PrimaryOf(IServiceProvider provider, string name)
    {
        HttpMessageHandler handler = provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(name);
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        return Assert.IsType<SocketsHttpHandler>(handler);
    }

    [Fact]
    public void A_mesh_client_marks_its_sockets_handler_whichever_was_registered_first()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("mesh-last").ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler()).AddMeshHandler();
        services.AddHttpClient("mesh-first").AddMeshHandler().ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler());
        services.AddHttpClient("plain").ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler());
        using var provider = services.BuildServiceProvider();

        Assert.Equal(true, PrimaryOf(provider, "mesh-last").Properties["__GrpcLoadBalancingDisabled"]);
        Assert.Equal(true, PrimaryOf(provider, "mesh-first").Properties["__GrpcLoadBalancingDisabled"]);
        Assert.False(PrimaryOf(provider, "plain").Properties.ContainsKey("__GrpcLoadBalancingDisabled"));
    }
}
