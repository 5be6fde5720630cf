using Mesh.Client.Routing;
using Microsoft.Extensions.Http;

namespace Mesh.Client;

/// <summary>
/// Turns off grpc-dotnet's own load balancing for clients that go through the mesh, so there is exactly one balancer.
/// A <c>GrpcChannel</c> over a <see cref="SocketsHttpHandler"/> otherwise resolves the address itself and connects to
/// the logical name (<c>http://greeter</c>) on its own subchannels, and the mesh's pick never reaches a socket. The
/// handler property is the documented switch (Microsoft.Extensions.ServiceDiscovery sets it the same way). A filter
/// rather than a builder action, so it sees the primary handler whichever registration set it last.
/// </summary>
internal sealed class GrpcLoadBalancingFilter : IHttpMessageHandlerBuilderFilter
{
    internal const string DisabledProperty = "__GrpcLoadBalancingDisabled";

    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next) => builder =>
    {
        next(builder);
        if (builder.PrimaryHandler is SocketsHttpHandler sockets)
        {
            foreach (var handler in builder.AdditionalHandlers)
            {
                if (handler is MeshHandler)
                {
                    sockets.Properties[DisabledProperty] = true;
                    return;
                }
            }
        }
    };
}
