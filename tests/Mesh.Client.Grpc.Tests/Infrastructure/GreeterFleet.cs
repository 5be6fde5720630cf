using Mesh.Client.Grpc.Testing;

namespace Mesh.Client.Grpc.Tests.Infrastructure;

/// <summary>Some backends and a client provider whose <see cref="Greeter.GreeterClient"/> goes through the mesh as service "greeter".</summary>
public sealed class GreeterFleet : IAsyncDisposable
{
    private GreeterFleet(List<GreeterBackend> backends, ServiceProvider provider)
    {
        Backends = backends;
        Provider = provider;
    }

    public IReadOnlyList<GreeterBackend> Backends { get; }

    public ServiceProvider Provider { get; }

    public Greeter.GreeterClient Client => Provider.GetRequiredService<Greeter.GreeterClient>();

    /// <summary>How the client is registered: the two lines users write.</summary>
    public enum Registration
    {
        /// <summary><c>AddGrpcClient&lt;T&gt;(...).AddMeshHandler()</c>.</summary>
        AddGrpcClient,

        /// <summary><c>ConfigureHttpClientDefaults(b =&gt; b.AddMeshHandler())</c> and a plain <c>AddGrpcClient&lt;T&gt;</c>.</summary>
        HttpClientDefaults,
    }

    public static async Task<GreeterFleet> StartAsync(int count, Action<MeshServiceOptions>? configure = null,
        Registration registration = Registration.AddGrpcClient, Action<IServiceCollection>? services = null)
    {
        var backends = new List<GreeterBackend>();
        for (int i = 0; i < count; i++)
        {
            backends.Add(await GreeterBackend.StartAsync($"b{i}"));
        }

        return new GreeterFleet(backends, CreateClient(backends.Select(b => b.Address), "http", configure, registration, services));
    }

    public static ServiceProvider CreateClient(IEnumerable<string> addresses, string scheme, Action<MeshServiceOptions>? configure,
        Registration registration = Registration.AddGrpcClient, Action<IServiceCollection>? more = null,
        Action<IHttpClientBuilder>? client = null)
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("greeter", [.. addresses]);
        more?.Invoke(services);
        if (registration == Registration.HttpClientDefaults)
        {
            services.ConfigureHttpClientDefaults(http => http.AddMeshHandler(configure));
            var builder = services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri($"{scheme}://greeter"));
            client?.Invoke(builder);
        }
        else
        {
            var builder = services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri($"{scheme}://greeter"));
            client?.Invoke(builder);
            builder.AddMeshHandler(configure);
        }

        return services.BuildServiceProvider();
    }

    /// <summary>The mesh's view of service "greeter" (one client).</summary>
    public Mesh.Client.Diagnostics.ServiceSnapshot Snapshot() => Snapshot(Provider);

    public static Mesh.Client.Diagnostics.ServiceSnapshot Snapshot(IServiceProvider provider) =>
        provider.GetRequiredService<Mesh.Client.Diagnostics.IMeshDiagnostics>().GetSnapshot().Services.Single(s => s.ServiceName == "greeter");

    public Mesh.Client.Diagnostics.EndpointSnapshot Endpoint(GreeterBackend backend) =>
        Snapshot().Endpoints.Single(e => e.Address.EndsWith($":{backend.Port}", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await Provider.DisposeAsync();
        foreach (var backend in Backends)
        {
            await backend.DisposeAsync();
        }
    }
}
