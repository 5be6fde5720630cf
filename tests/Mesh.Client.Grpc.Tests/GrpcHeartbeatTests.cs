using Grpc.Health.V1;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Grpc.Tests;

/// <summary>
/// Heartbeats that speak gRPC (<c>HealthCheck:GrpcService</c>): the standard <c>grpc.health.v1.Health/Check</c>
/// against Grpc.HealthCheck's <c>HealthServiceImpl</c> in a Grpc.AspNetCore server, with no HTTP health path.
/// </summary>
public sealed class GrpcHeartbeatTests
{
    // The stable log event ids of heartbeat transitions (docs/telemetry.md).
    private const int EndpointUnhealthy = 104;
    private const int EndpointHealthy = 105;

    private static ServiceProvider Client(IEnumerable<GreeterBackend> backends, FakeTimeProvider time, LogWaiter logs, string service) =>
        GreeterFleet.CreateClient(backends.Select(b => b.Address), "http", o =>
        {
            o.Balancer = "RoundRobin";
            o.HealthCheck.GrpcService = service;
            o.HealthCheck.UnhealthyThreshold = 1;
            o.Panic.ThresholdPercent = 0;
        }, more: services =>
        {
            services.AddSingleton<TimeProvider>(time);
            services.AddLogging(l => l.AddProvider(logs));
        });

    [Fact]
    public async Task Serving_is_healthy_not_serving_is_unhealthy_and_serving_again_is_healthy_again()
    {
        await using var healthy = await GreeterBackend.StartAsync("healthy");
        await using var sick = await GreeterBackend.StartAsync("sick");
        healthy.Health.SetStatus("greeter", HealthCheckResponse.Types.ServingStatus.Serving);
        sick.Health.SetStatus("greeter", HealthCheckResponse.Types.ServingStatus.NotServing);
        sick.Health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving); // the server is up; the service is not
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logs = new LogWaiter();
        await using var provider = Client([healthy, sick], time, logs, "greeter");
        var client = provider.GetRequiredService<Greeter.GreeterClient>();

        await client.SayHelloAsync(new HelloRequest { Name = "first" }); // the service's first use starts its heartbeats
        await logs.WaitFor(EndpointUnhealthy, $":{sick.Port}");
        await logs.WaitFor(EndpointHealthy, $":{healthy.Port}");
        Assert.Contains("NOT_SERVING", logs.Messages(EndpointUnhealthy).Single(), StringComparison.Ordinal);

        int sickCalls = sick.Calls;
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("healthy", (await client.SayHelloAsync(new HelloRequest { Name = "x" })).Backend);
        }

        Assert.Equal(sickCalls, sick.Calls);
        Assert.Equal(EndpointState.Unhealthy, GreeterFleet.Snapshot(provider).Endpoints.Single(e => e.Address.EndsWith($":{sick.Port}", StringComparison.Ordinal)).State);

        sick.Health.SetStatus("greeter", HealthCheckResponse.Types.ServingStatus.Serving);
        time.Advance(TimeSpan.FromSeconds(10)); // the next probe comes within one interval
        await logs.WaitFor(EndpointHealthy, $":{sick.Port}");
        var replies = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            replies.Add((await client.SayHelloAsync(new HelloRequest { Name = "x" })).Backend);
        }

        Assert.Contains("sick", replies);
    }

    [Fact]
    public async Task An_empty_service_name_asks_for_the_servers_overall_health_and_an_unknown_name_is_unhealthy()
    {
        await using var overall = await GreeterBackend.StartAsync("overall");
        await using var unknown = await GreeterBackend.StartAsync("unknown");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logsOverall = new LogWaiter();
        var logsUnknown = new LogWaiter();
        await using var overallClient = Client([overall], time, logsOverall, "");
        await using var unknownClient = Client([unknown], time, logsUnknown, "no-such-service");

        await overallClient.GetRequiredService<Greeter.GreeterClient>().SayHelloAsync(new HelloRequest { Name = "x" });
        await unknownClient.GetRequiredService<Greeter.GreeterClient>().SayHelloAsync(new HelloRequest { Name = "x" });

        await logsOverall.WaitFor(EndpointHealthy, $":{overall.Port}");
        await logsUnknown.WaitFor(EndpointUnhealthy, $":{unknown.Port}");
        // Grpc.HealthCheck answers NOT_FOUND for a name it does not know.
        Assert.Contains("NOT_FOUND", logsUnknown.Messages(EndpointUnhealthy).Single(), StringComparison.Ordinal);
    }
}
