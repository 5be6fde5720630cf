using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client;

/// <summary>What <c>AddMeshClient()</c> returns: the service collection, for resolvers and other parts to register through.</summary>
/// <remarks>
/// In Model/ because every part that plugs into the mesh (the DNS resolver here, the Kubernetes package) extends it:
/// it is shared vocabulary, and a part registering itself need not depend on the root registration code.
/// </remarks>
public interface IMeshClientBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}

internal sealed class MeshClientBuilder(IServiceCollection services) : IMeshClientBuilder
{
    public IServiceCollection Services { get; } = services;
}
