using Grpc.Core;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;

namespace Mesh.Client.Grpc.Tests;

/// <summary>
/// The four gRPC call types, as users register the client, go through the mesh over h2c: each call picks a backend,
/// so calls spread across them (round robin: exactly evenly), and every call's attempt ends when the call does.
/// </summary>
public sealed class CallTypeTests
{
    public enum CallType
    {
        Unary,
        ServerStreaming,
        ClientStreaming,
        Bidirectional,
    }

    public static TheoryData<CallType, GreeterFleet.Registration> Cases()
    {
        var data = new TheoryData<CallType, GreeterFleet.Registration>();
        foreach (var call in Enum.GetValues<CallType>())
        {
            foreach (var registration in Enum.GetValues<GreeterFleet.Registration>())
            {
                data.Add(call, registration);
            }
        }

        return data;
    }

    internal static async Task<List<string>> CallAsync(Greeter.GreeterClient client, CallType type, string name, CancellationToken cancellationToken = default)
    {
        switch (type)
        {
            case CallType.Unary:
                return [(await client.SayHelloAsync(new HelloRequest { Name = name }, cancellationToken: cancellationToken)).Backend];
            case CallType.ServerStreaming:
            {
                using var call = client.StreamHellos(new HelloRequest { Name = name, Count = 3 }, cancellationToken: cancellationToken);
                var backends = new List<string>();
                await foreach (var reply in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    backends.Add(reply.Backend);
                }

                Assert.Equal(3, backends.Count);
                return backends;
            }

            case CallType.ClientStreaming:
            {
                using var call = client.CollectHellos(cancellationToken: cancellationToken);
                await call.RequestStream.WriteAsync(new HelloRequest { Name = name + "-1" }, cancellationToken);
                await call.RequestStream.WriteAsync(new HelloRequest { Name = name + "-2" }, cancellationToken);
                await call.RequestStream.CompleteAsync();
                var reply = await call.ResponseAsync;
                Assert.Equal($"hello {name}-1,{name}-2", reply.Message);
                return [reply.Backend];
            }

            default:
            {
                using var call = client.Chat(cancellationToken: cancellationToken);
                var backends = new List<string>();
                for (int i = 0; i < 2; i++)
                {
                    await call.RequestStream.WriteAsync(new HelloRequest { Name = $"{name}-{i}" }, cancellationToken);
                    Assert.True(await call.ResponseStream.MoveNext(cancellationToken));
                    Assert.Equal($"hello {name}-{i}", call.ResponseStream.Current.Message);
                    backends.Add(call.ResponseStream.Current.Backend);
                }

                await call.RequestStream.CompleteAsync();
                Assert.False(await call.ResponseStream.MoveNext(cancellationToken));
                return backends;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Calls_of_each_type_spread_across_backends(CallType type, GreeterFleet.Registration registration)
    {
        await using var fleet = await GreeterFleet.StartAsync(3, o => o.Balancer = "RoundRobin", registration);
        var client = fleet.Client;

        for (int i = 0; i < 12; i++)
        {
            var backends = await CallAsync(client, type, $"call{i}");
            Assert.Single(backends.Distinct()); // one call, one backend
        }

        Assert.All(fleet.Backends, b => Assert.Equal(4, b.Calls));
        var snapshot = fleet.Snapshot();
        Assert.All(snapshot.Endpoints, e => Assert.Equal(4, e.Requests));
        Assert.All(snapshot.Endpoints, e => Assert.Equal(0, e.InFlight)); // every call's attempt ended with the call
    }
}
