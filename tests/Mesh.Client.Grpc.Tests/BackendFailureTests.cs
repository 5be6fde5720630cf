using Grpc.Core;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;

namespace Mesh.Client.Grpc.Tests;

/// <summary>
/// A backend killed mid-traffic: a unary call that had not started sending to it is retried on another backend by the
/// mesh (it never left the client: the connection was refused), so it costs the caller nothing; a call that was cut
/// mid-flight ends with UNAVAILABLE, and the mesh does not resend it (it may have run).
/// </summary>
public sealed class BackendFailureTests
{
    [Fact]
    public async Task A_killed_backend_costs_no_call_that_had_not_started_and_calls_cut_mid_flight_see_unavailable()
    {
        await using var fleet = await GreeterFleet.StartAsync(3, o => o.Balancer = "RoundRobin");
        var victim = fleet.Backends[2];
        var client = fleet.Client;
        for (int i = 0; i < 6; i++)
        {
            await client.SayHelloAsync(new HelloRequest { Name = "warm" }); // connections to every backend are open
        }

        // Mid-traffic: calls held on the victim are in flight when it dies.
        var hold = new TaskCompletionSource();
        victim.BeforeReply = _ => hold.Task;
        int before = victim.Calls;
        var inFlight = Enumerable.Range(0, 6).Select(i => client.SayHelloAsync(new HelloRequest { Name = $"f{i}" }).ResponseAsync).ToList();
        await victim.WhenCallsReached(before + 2);
        await victim.KillAsync();

        var cut = 0;
        foreach (var call in inFlight)
        {
            try
            {
                await call;
            }
            catch (RpcException ex)
            {
                Assert.Equal(StatusCode.Unavailable, ex.StatusCode); // what a call cut mid-flight sees
                cut++;
            }
        }

        Assert.Equal(2, cut);

        // After the kill: every call succeeds, including those the balancer sent to the dead backend first.
        var replies = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i => (await client.SayHelloAsync(new HelloRequest { Name = $"a{i}" })).Backend));
        Assert.DoesNotContain(victim.Name, replies);
        var dead = fleet.Endpoint(victim);
        Assert.True(dead.Requests > before + 2, $"the balancer picked the dead backend {dead.Requests - before - 2} times after it died");
        Assert.Equal(EndpointState.Ejected, dead.State); // refused connections count against it
    }
}
