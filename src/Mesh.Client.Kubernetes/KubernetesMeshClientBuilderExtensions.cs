using Mesh.Client;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Kubernetes.Routes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Kubernetes discovery to the mesh: <c>services.AddMeshClient().AddKubernetes()</c>.</summary>
public static class KubernetesMeshClientBuilderExtensions
{
    /// <summary>
    /// Adds the <c>kubernetes</c> resolver: a request to <c>http://catalog/...</c> goes to a ready pod of the Service
    /// <c>catalog</c>, followed through the API server's EndpointSlices. Options bind from <c>Mesh:Kubernetes</c> and
    /// <c>Mesh:Services:&lt;service&gt;:Port</c>, then <paramref name="configure"/> applies; they are validated at
    /// start-up. Resolvers added before this one are asked first. Also follows Gateway API HTTPRoutes attached to a
    /// Service as its routes (<see cref="KubernetesResolverOptions.HttpRoutes"/>).
    /// </summary>
    public static IMeshClientBuilder AddKubernetes(this IMeshClientBuilder builder, Action<KubernetesResolverOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        // The resolver and the HTTPRoute source share one connection: the same credentials, names and HTTP/2 connection.
        services.TryAddSingleton<KubernetesConnection>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointResolver, KubernetesEndpointResolver>());
        builder.AddRouteSource<KubernetesRouteSource>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<KubernetesResolverOptions>, KubernetesResolverOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KubernetesResolverOptions>, KubernetesResolverOptionsValidator>());
        services.AddOptions<KubernetesResolverOptions>().ValidateOnStart();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    /// <summary>Binds <c>Mesh:Kubernetes</c>, and each <c>Mesh:Services:&lt;service&gt;:Port</c> into <see cref="KubernetesResolverOptions.Ports"/>.</summary>
    private sealed class KubernetesResolverOptionsSetup(IServiceProvider services) : IConfigureOptions<KubernetesResolverOptions>
    {
        public void Configure(KubernetesResolverOptions options)
        {
            if (services.GetService(typeof(IConfiguration)) is not IConfiguration configuration)
            {
                return;
            }

            configuration.GetSection(KubernetesResolverOptions.SectionName).Bind(options);
            foreach (var service in configuration.GetSection("Mesh:Services").GetChildren())
            {
                if (service["Port"] is { } port)
                {
                    options.Ports[service.Key] = port;
                }
            }
        }
    }

    private sealed class KubernetesResolverOptionsValidator : IValidateOptions<KubernetesResolverOptions>
    {
        public ValidateOptionsResult Validate(string? name, KubernetesResolverOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
