using Grpc.Core;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;

namespace Mesh.Client.Grpc.Tests;

/// <summary>A gRPC stream is one attempt that lasts until the stream ends: its endpoint counts it in flight meanwhile.</summary>
public sealed class InFlightTests
{
    [Fact]
    public async Task A_server_stream_holds_its_endpoint_in_flight_until_its_last_message_and_status()
    {
        await using var fleet = await GreeterFleet.StartAsync(2, o => o.Balancer = "RoundRobin");
        const int messages = 5;

        using var call = fleet.Client.StreamHellos(new HelloRequest { Name = "s", Count = messages });
        int read = 0;
        GreeterBackend? serving = null;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            read++;
            serving ??= fleet.Backends.Single(b => b.Name == call.ResponseStream.Current.Backend);
            Assert.Equal(1, fleet.Endpoint(serving).InFlight); // message {read} of {messages}: still in flight
            Assert.Equal(0, fleet.Endpoint(fleet.Backends.Single(b => b != serving)).InFlight);
        }

        Assert.Equal(messages, read);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(0, fleet.Endpoint(serving!).InFlight);
        Assert.Equal(1, fleet.Endpoint(serving!).Requests);
    }

    [Fact]
    public async Task A_server_stream_the_caller_disposes_early_ends_its_attempt_without_counting_against_the_endpoint()
    {
        await using var fleet = await GreeterFleet.StartAsync(1, o => o.PassiveHealth.ConsecutiveFailures = 1);
        var backend = fleet.Backends[0];

        for (int i = 0; i < 3; i++)
        {
            using (var call = fleet.Client.StreamHellos(new HelloRequest { Name = "s", Count = 100 }))
            {
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                Assert.Equal(1, fleet.Endpoint(backend).InFlight);
            }

            Assert.Equal(0, fleet.Endpoint(backend).InFlight);
        }

        var endpoint = fleet.Endpoint(backend);
        Assert.Equal(Mesh.Client.Diagnostics.EndpointState.Available, endpoint.State); // one counted failure would have ejected it
        Assert.Equal(0, endpoint.TimesEjected);
    }

    [Fact]
    public async Task A_bidirectional_stream_holds_its_endpoint_in_flight_until_it_ends()
    {
        await using var fleet = await GreeterFleet.StartAsync(1);
        var backend = fleet.Backends[0];

        using var call = fleet.Client.Chat();
        await call.RequestStream.WriteAsync(new HelloRequest { Name = "a" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(1, fleet.Endpoint(backend).InFlight);
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(0, fleet.Endpoint(backend).InFlight);
    }
}
