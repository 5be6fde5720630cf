using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Mesh.Client.Grpc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.GrpcBench;

/// <summary>The two contenders: the mesh as users write it, and grpc-dotnet's own round_robin over a static resolver.</summary>
internal static class Clients
{
    /// <summary><c>AddGrpcClient&lt;T&gt;(o =&gt; o.Address = http://greeter).AddMeshHandler()</c> with static endpoints.</summary>
    public static (ServiceProvider Provider, Greeter.GreeterClient Client) Mesh(IEnumerable<int> ports, string balancer)
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("greeter", [.. ports.Select(p => $"http://127.0.0.1:{p}")]);
        services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri("http://greeter"))
            .AddMeshHandler(o => o.Balancer = balancer);
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<Greeter.GreeterClient>());
    }

    /// <summary>grpc-dotnet's client-side balancing as users have it today: <c>static:///</c> resolver, <c>round_robin</c>.</summary>
    public static (GrpcChannel Channel, Greeter.GreeterClient Client) RoundRobin(IEnumerable<int> ports)
    {
        var addresses = ports.Select(p => new BalancerAddress("127.0.0.1", p)).ToArray();
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        var channel = GrpcChannel.ForAddress("static:///greeter", new GrpcChannelOptions
        {
            Credentials = global::Grpc.Core.ChannelCredentials.Insecure,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            ServiceProvider = services.BuildServiceProvider(),
        });
        return (channel, new Greeter.GreeterClient(channel));
    }
}
