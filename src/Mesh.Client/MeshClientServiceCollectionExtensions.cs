using Mesh.Client;
using Mesh.Client.Balancing;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.ServiceDiscovery;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the mesh: <c>services.AddMeshClient()</c>.</summary>
public static class MeshClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds the mesh's core: the service registry, the configuration resolver (schema and rules of
    /// Microsoft.Extensions.ServiceDiscovery, section <c>Services</c>), the bridge that lets every
    /// <c>IServiceEndpointProviderFactory</c> in DI resolve services (asked after the mesh's own resolvers), options
    /// bound from <c>Mesh</c> and validated at start-up. Calling it again is harmless (it adds nothing twice; <paramref name="configure"/> is still applied).
    /// </summary>
    /// <returns>A builder to add resolvers and other parts through.</returns>
    public static IMeshClientBuilder AddMeshClient(this IServiceCollection services, Action<MeshClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MeshClientRegistrations>();
        services.TryAddSingleton<MeshServiceOptionsFactory>();
        services.TryAddSingleton(sp => new LoadBalancerFactory(sp.GetServices<ILoadBalancerFactory>()));
        services.TryAddSingleton<MeshConfiguration>();
        services.TryAddSingleton<ServiceRegistry>();
        services.AddMetrics(); // IMeterFactory, for hosts that did not add it; adds nothing twice
        services.TryAddSingleton<MeshMetrics>();
        services.TryAddSingleton<IMeshDiagnostics, MeshDiagnostics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Http.IHttpMessageHandlerBuilderFilter, GrpcLoadBalancingFilter>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<MeshClientOptions>, MeshClientOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshClientOptions>, MeshClientOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointResolver, ConfigurationEndpointResolver>(
            sp => new ConfigurationEndpointResolver(sp.GetService<IConfiguration>(),
                sp.GetRequiredService<IOptions<ServiceDiscoveryOptions>>().Value,
                sp.GetRequiredService<IOptions<ConfigurationServiceEndpointProviderOptions>>().Value.SectionName)));
        services.TryAddSingleton<ServiceDiscoveryEndpointResolver>(); // asked last; see ServiceRegistry
        if (!services.Any(d => d.ServiceType == typeof(MeshClientMarker)))
        {
            services.AddSingleton<MeshClientMarker>();
            services.AddOptions<MeshClientOptions>().ValidateOnStart();
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return new MeshClientBuilder(services);
    }

    /// <summary>
    /// Adds a service whose endpoints are given here, for example
    /// <c>AddStaticEndpoints("catalog", "http://127.0.0.1:5001", "http://127.0.0.1:5002")</c>. Addresses are
    /// <c>http://host:port</c>, <c>https://host:port</c> or <c>host:port</c>; a bad one throws <see cref="FormatException"/> here.
    /// </summary>
    public static IMeshClientBuilder AddStaticEndpoints(this IMeshClientBuilder builder, string serviceName, params string[] addresses)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentNullException.ThrowIfNull(addresses);
        foreach (var address in addresses)
        {
            // Fail now, naming the service and the address (never its credentials), rather than on the first request.
            if (!EndpointAddress.TryParse(address, Uri.UriSchemeHttp, $"AddStaticEndpoints(\"{serviceName}\")", out _, out var error))
            {
                throw new FormatException(error);
            }
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointResolver, StaticEndpointResolver>());
        builder.Services.Configure<StaticEndpointOptions>(o => o.Services[serviceName] = addresses.ToList());
        return builder;
    }

    /// <summary>
    /// Registers a custom resolver, tried after those registered before it (and before the
    /// Microsoft.Extensions.ServiceDiscovery providers, which are always asked last).
    /// </summary>
    public static IMeshClientBuilder AddResolver<TResolver>(this IMeshClientBuilder builder)
        where TResolver : class, IEndpointResolver
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointResolver, TResolver>());
        return builder;
    }

    /// <summary>
    /// Registers a source of routes (traffic policy), asked after those registered before it when a client first uses a
    /// service. Routes from configuration or code take precedence over a source's; see <see cref="IMeshRouteSource"/>.
    /// </summary>
    public static IMeshClientBuilder AddRouteSource<TSource>(this IMeshClientBuilder builder)
        where TSource : class, IMeshRouteSource
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IMeshRouteSource, TSource>());
        return builder;
    }

    /// <summary>
    /// Registers a custom balancer. Services select it by <see cref="ILoadBalancerFactory.Name"/>
    /// (<c>Mesh:Services:&lt;service&gt;:Balancer</c>, or <see cref="MeshServiceOptions.Balancer"/>); a name that is also
    /// a built-in one (<see cref="BalancerNames"/>) replaces the built-in policy.
    /// </summary>
    public static IMeshClientBuilder AddLoadBalancer<TFactory>(this IMeshClientBuilder builder)
        where TFactory : class, ILoadBalancerFactory
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancerFactory, TFactory>());
        return builder;
    }

    /// <summary>Registers a custom balancer under <paramref name="name"/>, created by <paramref name="create"/> for each client's use of a service.</summary>
    public static IMeshClientBuilder AddLoadBalancer(this IMeshClientBuilder builder, string name, Func<LoadBalancerContext, ILoadBalancer> create)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        builder.Services.AddSingleton<ILoadBalancerFactory>(new DelegateLoadBalancerFactory(name, create));
        return builder;
    }

    private sealed class DelegateLoadBalancerFactory(string name, Func<LoadBalancerContext, ILoadBalancer> create) : ILoadBalancerFactory
    {
        public string Name { get; } = name;

        public ILoadBalancer Create(LoadBalancerContext context) => create(context);
    }

    private sealed class MeshClientMarker;
}
