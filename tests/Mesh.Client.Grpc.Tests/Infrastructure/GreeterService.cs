using Grpc.Core;
using Mesh.Client.Grpc.Testing;

namespace Mesh.Client.Grpc.Tests.Infrastructure;

/// <summary>The test Greeter: answers with the backend's name, after the backend's <see cref="GreeterBackend.BeforeReply"/>.</summary>
internal sealed class GreeterService(GreeterBackend.BackendRegistry registry) : Greeter.GreeterBase
{
    private GreeterBackend Backend => registry.Backend;

    public override async Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
    {
        await Backend.OnCallAsync(context);
        return Reply(request.Name);
    }

    public override async Task StreamHellos(HelloRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
    {
        await Backend.OnCallAsync(context);
        for (int i = 0; i < request.Count; i++)
        {
            await responseStream.WriteAsync(Reply($"{request.Name} {i}"), context.CancellationToken);
        }

        if (Backend.AfterStream is { } after)
        {
            await after(context);
        }
    }

    public override async Task<HelloReply> CollectHellos(IAsyncStreamReader<HelloRequest> requestStream, ServerCallContext context)
    {
        await Backend.OnCallAsync(context);
        var names = new List<string>();
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            names.Add(request.Name);
        }

        return Reply(string.Join(",", names));
    }

    public override async Task Chat(IAsyncStreamReader<HelloRequest> requestStream, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
    {
        await Backend.OnCallAsync(context);
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(Reply(request.Name), context.CancellationToken);
        }
    }

    private HelloReply Reply(string name) => new() { Message = "hello " + name, Backend = Backend.Name };
}
