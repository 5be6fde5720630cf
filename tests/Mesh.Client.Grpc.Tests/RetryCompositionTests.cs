using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;

namespace Mesh.Client.Grpc.Tests;

/// <summary>
/// The recommended composition: grpc-dotnet's own retry policy (service config, UNAVAILABLE only) outside the mesh.
/// Each of its retries is a new HTTP request, so the mesh picks again (an endpoint that just failed is ejected or
/// costs more), and the mesh's transparent retry has already absorbed the failures that never left the client.
/// </summary>
public sealed class RetryCompositionTests
{
    internal static ServiceConfig RetryUnavailable() => new()
    {
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { MethodName.Default },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = 3,
                    InitialBackoff = TimeSpan.FromMilliseconds(10),
                    MaxBackoff = TimeSpan.FromMilliseconds(50),
                    BackoffMultiplier = 2,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            },
        },
    };

    private static async Task<(List<GreeterBackend> Backends, ServiceProvider Provider)> StartAsync()
    {
        var backends = new List<GreeterBackend>();
        for (int i = 0; i < 3; i++)
        {
            backends.Add(await GreeterBackend.StartAsync($"b{i}"));
        }

        var provider = GreeterFleet.CreateClient(backends.Select(b => b.Address), "http", o => o.Balancer = "RoundRobin",
            client: http => http.ConfigureChannel(c => c.ServiceConfig = RetryUnavailable()));
        return (backends, provider);
    }

    [Fact]
    public async Task With_grpc_retries_a_backend_answering_unavailable_costs_callers_nothing_and_is_ejected()
    {
        var (backends, provider) = await StartAsync();
        await using var fleet = new Disposer(backends, provider);
        var sick = backends[1];
        sick.BeforeReply = _ => throw new RpcException(new Status(StatusCode.Unavailable, "draining"));
        var client = provider.GetRequiredService<Greeter.GreeterClient>();

        for (int i = 0; i < 30; i++)
        {
            Assert.NotEqual(sick.Name, (await client.SayHelloAsync(new HelloRequest { Name = "x" })).Backend);
        }

        Assert.Equal(5, sick.Calls); // each failure was retried by grpc-dotnet, re-picked by the mesh elsewhere
        Assert.Equal(EndpointState.Ejected, GreeterFleet.Snapshot(provider).Endpoints.Single(e => e.Address.EndsWith($":{sick.Port}", StringComparison.Ordinal)).State);
    }

    [Fact]
    public async Task With_grpc_retries_calls_cut_mid_flight_by_a_killed_backend_succeed_elsewhere()
    {
        var (backends, provider) = await StartAsync();
        await using var fleet = new Disposer(backends, provider);
        var victim = backends[2];
        var client = provider.GetRequiredService<Greeter.GreeterClient>();
        var hold = new TaskCompletionSource();
        victim.BeforeReply = _ => hold.Task;

        var calls = Enumerable.Range(0, 6).Select(i => client.SayHelloAsync(new HelloRequest { Name = $"f{i}" }).ResponseAsync).ToList();
        await victim.WhenCallsReached(2);
        await victim.KillAsync();
        var replies = await Task.WhenAll(calls);

        Assert.DoesNotContain(victim.Name, replies.Select(r => r.Backend));
        Assert.Equal(2, victim.Calls); // both were cut mid-flight, and grpc-dotnet's retry sent them elsewhere
    }

    private sealed class Disposer(List<GreeterBackend> backends, ServiceProvider provider) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await provider.DisposeAsync();
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }
}
