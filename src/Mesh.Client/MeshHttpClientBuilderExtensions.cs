using Mesh.Client;
using Mesh.Client.Routing;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts the mesh into an <c>HttpClient</c> pipeline: <c>AddHttpClient(...).AddMeshHandler()</c>.</summary>
public static class MeshHttpClientBuilderExtensions
{
    /// <summary>
    /// Sends this client's requests through the mesh: the request URI's host names the service
    /// (<c>http://catalog/items</c>), and each request goes to an endpoint the service's balancer picks. Works for named
    /// and typed clients and inside <c>ConfigureHttpClientDefaults</c>. Adds <c>AddMeshClient()</c> if it is not there yet.
    /// </summary>
    /// <param name="builder">The client.</param>
    /// <param name="configure">
    /// Options for the services this client calls; applied after configuration <c>Mesh:Services:&lt;service&gt;</c>.
    /// </param>
    /// <remarks>
    /// The mesh handler is added after the handlers registered before this call, so an outer resilience handler
    /// registered earlier runs outside it and each of its retries picks an endpoint again. Calling it twice on one
    /// client adds one handler.
    /// </remarks>
    public static IHttpClientBuilder AddMeshHandler(this IHttpClientBuilder builder, Action<MeshServiceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddMeshClient();

        // ConfigureHttpClientDefaults hands out a builder whose Name is null: its configuration applies to every client.
        string? name = builder.Name;
        if (configure is not null)
        {
            if (name is null)
            {
                builder.Services.ConfigureAll(configure);
            }
            else
            {
                builder.Services.Configure(name, configure);
            }
        }

        if (name is not null)
        {
            builder.Services.AddSingleton(new MeshClientRegistration(name));
        }

        builder.Services.AddSingleton<IConfigureOptions<HttpClientFactoryOptions>>(
            new ConfigureNamedOptions<HttpClientFactoryOptions>(name, options =>
                options.HttpMessageHandlerBuilderActions.Add(handlers =>
                {
                    foreach (var handler in handlers.AdditionalHandlers)
                    {
                        if (handler is MeshHandler)
                        {
                            return;
                        }
                    }

                    var registry = handlers.Services.GetRequiredService<ServiceRegistry>();
                    handlers.AdditionalHandlers.Add(new MeshHandler(registry.GetClient(handlers.Name ?? string.Empty)));
                })));
        return builder;
    }
}
