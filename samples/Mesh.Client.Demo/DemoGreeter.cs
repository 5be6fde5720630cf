using Grpc.Core;
using Mesh.Client.Grpc.Testing;

namespace Mesh.Client.Demo;

/// <summary>The demo backend's gRPC face (<c>--grpc</c>): answers after the backend's latency, with its name.</summary>
internal sealed class DemoGreeter(DemoBackend backend) : Greeter.GreeterBase
{
    public override async Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
    {
        await Task.Delay(backend.NextLatency(), context.CancellationToken);
        return new HelloReply { Message = "hello " + request.Name, Backend = backend.Name };
    }
}
