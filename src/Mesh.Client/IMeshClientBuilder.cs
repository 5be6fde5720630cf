using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client;

/// <summary>What <c>AddMeshClient()</c> returns: the service collection, for resolvers and other parts to register through.</summary>
public interface IMeshClientBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}

internal sealed class MeshClientBuilder(IServiceCollection services) : IMeshClientBuilder
{
    public IServiceCollection Services { get; } = services;
}
