using Mesh.Client;
using Mesh.Client.Discovery;
using Mesh.Client.Discovery.Dns;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the DNS resolver: <c>services.AddMeshClient().AddDns()</c>.</summary>
public static class DnsMeshClientBuilderExtensions
{
    /// <summary>
    /// Adds the DNS resolver (name <c>dns</c>) after the resolvers registered so far. It resolves the services configured
    /// for it (<c>Mesh:Services:&lt;name&gt;:Dns</c>, <c>Mesh:Services:&lt;name&gt;:Resolver = dns</c>) or added in
    /// <paramref name="configure"/>:
    /// <code>
    /// builder.AddDns(o =&gt; o.Services["catalog"] = new DnsServiceOptions { HostName = "catalog.shop.svc.cluster.local", Port = 8080 });
    /// </code>
    /// Options bind from <c>Mesh:Dns</c>; <paramref name="configure"/> applies on top. Invalid values fail start-up with
    /// a message naming the key. Calling it again adds nothing twice (<paramref name="configure"/> is still applied).
    /// </summary>
    public static IMeshClientBuilder AddDns(this IMeshClientBuilder builder, Action<DnsResolverOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointResolver, DnsEndpointResolver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<DnsResolverOptions>, DnsResolverOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DnsResolverOptions>, DnsResolverOptionsValidator>());
        if (!services.Any(d => d.ServiceType == typeof(DnsMarker)))
        {
            services.AddSingleton<DnsMarker>();
            services.AddOptions<DnsResolverOptions>().ValidateOnStart();
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private sealed class DnsMarker;
}
