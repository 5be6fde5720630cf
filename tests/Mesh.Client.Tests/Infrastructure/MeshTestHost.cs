using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>Builds a service provider with the mesh and one named client, the way an application would.</summary>
public static class MeshTestHost
{
    public const string ClientName = "test";

    public static ServiceProvider Build(Action<IMeshClientBuilder>? mesh = null, IConfiguration? configuration = null,
        Action<MeshServiceOptions>? handler = null, TimeProvider? timeProvider = null, string baseAddress = "http://catalog")
    {
        var services = new ServiceCollection();
        if (configuration is not null)
        {
            services.AddSingleton(configuration);
        }

        if (timeProvider is not null)
        {
            services.AddSingleton(timeProvider);
        }

        var builder = services.AddMeshClient();
        mesh?.Invoke(builder);
        services.AddHttpClient(ClientName, c => c.BaseAddress = new Uri(baseAddress)).AddMeshHandler(handler);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static HttpClient Client(this IServiceProvider services) =>
        services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);
}
