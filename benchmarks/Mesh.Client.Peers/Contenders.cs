using Mesh.Client.Balancing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Client.Peers;

/// <summary>One client set-up under test: its name and how to build its <see cref="HttpClient"/> for service <c>svc</c>.</summary>
internal sealed record Contender(string Name, Func<string[], TimeSpan?, ServiceProvider> Build)
{
    public const string Service = "svc";
    public const string ClientName = "client";

    public static Uri LogicalBase => new($"http://{Service}");

    /// <summary>The same client pipeline with the first backend's URI written in: no discovery, no balancing.</summary>
    public static Contender Fixed() => new("fixed URI (no discovery)", (urls, _) =>
    {
        var services = new ServiceCollection();
        services.AddHttpClient(ClientName, c => c.BaseAddress = new Uri(urls[0]));
        return services.BuildServiceProvider();
    });

    /// <summary>Microsoft.Extensions.ServiceDiscovery: configuration endpoints, its round robin; optionally the standard hedging handler outside it.</summary>
    public static Contender ServiceDiscovery(TimeSpan? hedgingDelay = null) => new(
        hedgingDelay is null ? "MESD round robin" : $"MESD + AddStandardHedgingHandler ({hedgingDelay.Value.TotalMilliseconds:0} ms)",
        (urls, _) =>
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(urls.Select((u, i) => new KeyValuePair<string, string?>($"Services:{Service}:http:{i}", u)))
                .Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddServiceDiscovery();
            var http = services.AddHttpClient(ClientName, c => c.BaseAddress = LogicalBase);
            if (hedgingDelay is { } delay)
            {
                // Outside discovery, as Aspire's ServiceDefaults order them: each hedge is resolved (and round-robined) again.
                http.AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = delay);
            }

            http.AddServiceDiscovery();
            return services.BuildServiceProvider();
        });

    /// <summary>Mesh.Client with static endpoints and one balancer (a built-in name or one of <see cref="BeforeStallBalancer"/>'s).</summary>
    public static Contender Mesh(string balancer, string? variant = null, Action<MeshServiceOptions>? configure = null) =>
        new(variant is null ? $"mesh {balancer}" : $"mesh {balancer}, {variant}", (urls, _) =>
    {
        var services = new ServiceCollection();
        services.AddMeshClient()
            .AddStaticEndpoints(Service, urls)
            .AddLoadBalancer("PeakEwma-averaging-stall-peaks", ctx => new AveragingStallPeaks(ctx.TimeProvider))
            .AddLoadBalancer("PeakEwma-before15", ctx => new BeforeStallBalancer(peakEwma: true, ctx.TimeProvider))
            .AddLoadBalancer("LeastRequest-before15", ctx => new BeforeStallBalancer(peakEwma: false, ctx.TimeProvider));
        services.AddHttpClient(ClientName, c => c.BaseAddress = LogicalBase).AddMeshHandler(o =>
        {
            o.Balancer = balancer;
            configure?.Invoke(o);
        });
        return services.BuildServiceProvider();
    });

    public static HttpClient Client(ServiceProvider provider) =>
        provider.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);
}
