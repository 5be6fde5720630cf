using Grpc.Core;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;

namespace Mesh.Client.Grpc.Tests;

/// <summary>
/// What a gRPC call's status does to its endpoint: UNAVAILABLE counts against it (and ejects it after the usual
/// failures in a row), whether it comes alone (trailers-only) or in the trailers after messages; a deadline or the
/// caller's cancellation never counts.
/// </summary>
public sealed class HealthAccountingTests
{
    private static readonly RpcException s_unavailable = new(new Status(StatusCode.Unavailable, "shutting down"));

    [Fact]
    public async Task A_backend_answering_unavailable_is_ejected_and_calls_stop_reaching_it()
    {
        await using var fleet = await GreeterFleet.StartAsync(3, o => o.Balancer = "RoundRobin");
        var sick = fleet.Backends[1];
        sick.BeforeReply = _ => throw s_unavailable;

        int failed = 0;
        for (int i = 0; i < 30; i++)
        {
            try
            {
                var reply = await fleet.Client.SayHelloAsync(new HelloRequest { Name = "x" });
                Assert.NotEqual(sick.Name, reply.Backend);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                failed++; // a POST is not retried by the mesh: the caller sees the status (see RetryCompositionTests)
            }
        }

        Assert.Equal(5, sick.Calls); // 5 failures in a row (PassiveHealth:ConsecutiveFailures), then no more calls
        Assert.Equal(5, failed);
        var endpoint = fleet.Endpoint(sick);
        Assert.Equal(EndpointState.Ejected, endpoint.State);
        Assert.Equal(1, endpoint.TimesEjected);
        Assert.All(fleet.Backends.Where(b => b != sick), b => Assert.Equal(EndpointState.Available, fleet.Endpoint(b).State));
    }

    [Fact]
    public async Task Unavailable_in_the_trailers_after_messages_counts_against_the_endpoint()
    {
        await using var fleet = await GreeterFleet.StartAsync(1, o => o.PassiveHealth.ConsecutiveFailures = 2);
        var backend = fleet.Backends[0];
        backend.AfterStream = _ => throw s_unavailable;

        for (int i = 0; i < 2; i++)
        {
            using var call = fleet.Client.StreamHellos(new HelloRequest { Name = "s", Count = 2 });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        }

        Assert.Equal(EndpointState.Ejected, fleet.Endpoint(backend).State);
    }

    [Fact]
    public async Task Deadlines_are_never_counted_against_the_endpoint()
    {
        // One counted failure would eject the only backend.
        await using var fleet = await GreeterFleet.StartAsync(1, o => o.PassiveHealth.ConsecutiveFailures = 1);
        var backend = fleet.Backends[0];
        backend.BeforeReply = context => Task.Delay(Timeout.Infinite, context.CancellationToken);

        for (int i = 0; i < 3; i++)
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await fleet.Client.SayHelloAsync(new HelloRequest { Name = "late" }, deadline: DateTime.UtcNow.AddMilliseconds(100)));
            Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        }

        // A server stream whose deadline expires after its first message.
        backend.BeforeReply = null;
        backend.AfterStream = context => Task.Delay(Timeout.Infinite, context.CancellationToken);
        using (var call = fleet.Client.StreamHellos(new HelloRequest { Name = "s", Count = 1 }, deadline: DateTime.UtcNow.AddSeconds(1)))
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        }

        // A unary call whose deadline passed before the server saw it (a loaded machine) is a deadline too.
        Assert.InRange(backend.Calls, 2, 4);
        AssertNotCounted(fleet.Endpoint(backend));
    }

    [Fact]
    public async Task A_callers_cancellation_is_never_counted_against_the_endpoint()
    {
        await using var fleet = await GreeterFleet.StartAsync(1, o => o.PassiveHealth.ConsecutiveFailures = 1);
        var backend = fleet.Backends[0];
        backend.BeforeReply = context => Task.Delay(Timeout.Infinite, context.CancellationToken);

        for (int i = 1; i <= 3; i++)
        {
            using var cts = new CancellationTokenSource();
            var call = fleet.Client.SayHelloAsync(new HelloRequest { Name = "x" }, cancellationToken: cts.Token);
            await backend.WhenCallsReached(i); // the call reached the server: it is in flight
            Assert.Equal(1, fleet.Endpoint(backend).InFlight);
            cts.Cancel();
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
            call.Dispose();
        }

        // Mid-stream: cancelled after the first message.
        backend.BeforeReply = null;
        backend.AfterStream = context => Task.Delay(Timeout.Infinite, context.CancellationToken);
        using (var cts = new CancellationTokenSource())
        using (var call = fleet.Client.StreamHellos(new HelloRequest { Name = "s", Count = 1 }, cancellationToken: cts.Token))
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            cts.Cancel();
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        }

        Assert.Equal(4, backend.Calls);
        AssertNotCounted(fleet.Endpoint(backend));
    }

    private static void AssertNotCounted(EndpointSnapshot endpoint)
    {
        Assert.Equal(0, endpoint.InFlight);
        Assert.Equal(EndpointState.Available, endpoint.State);
        Assert.NotEqual(HealthOpinion.Unhealthy, endpoint.PassiveHealth);
        Assert.Equal(0, endpoint.TimesEjected);
    }
}
