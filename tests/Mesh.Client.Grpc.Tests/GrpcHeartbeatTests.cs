using Grpc.Health.V1;
using Mesh.Client.Diagnostics;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.Grpc.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
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

    private static ServiceProvider Client(IEnumerable<GreeterBackend> backends, FakeTimeProvider time, FakeLogCollector logs, string service) =>
        GreeterFleet.CreateClient(backends.Select(b => b.Address), "http", o =>
        {
            o.Balancer = "RoundRobin";
            o.HealthCheck.GrpcService = service;
            o.HealthCheck.UnhealthyThreshold = 1;
            o.Panic.ThresholdPercent = 0;
        }, more: services =>
        {
            services.AddSingleton<TimeProvider>(time);
            services.AddLogging(l => l.AddProvider(new FakeLoggerProvider(logs)));
        });

    /// <summary>Waits (30 s at most) until an event with <paramref name="id"/> whose message contains <paramref name="text"/> is logged.</summary>
    private static async Task WaitForAsync(FakeLogCollector logs, int id, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // GetLogsAsync yields the records collected so far, then each new one as it is logged.
        await foreach (var record in logs.GetLogsAsync(timeout.Token))
        {
            if (record.Id.Id == id && record.Message.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }
    }

    private static string SingleMessage(FakeLogCollector logs, int id) => logs.GetSnapshot().Single(r => r.Id.Id == id).Message;

    [Fact]
    public async Task Serving_is_healthy_not_serving_is_unhealthy_and_serving_again_is_healthy_again()
    {
        await using var healthy = await GreeterBackend.StartAsync("healthy");
        await using var sick = await GreeterBackend.StartAsync("sick");
        healthy.Health.SetStatus("greeter", HealthCheckResponse.Types.ServingStatus.Serving);
        sick.Health.SetStatus("greeter", HealthCheckResponse.Types.ServingStatus.NotServing);
        sick.Health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving); // the server is up; the service is not
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logs = new FakeLogCollector();
        await using var provider = Client([healthy, sick], time, logs, "greeter");
        var client = provider.GetRequiredService<Greeter.GreeterClient>();

        await client.SayHelloAsync(new HelloRequest { Name = "first" }); // the service's first use starts its heartbeats
        await WaitForAsync(logs, EndpointUnhealthy, $":{sick.Port}");
        await WaitForAsync(logs, EndpointHealthy, $":{healthy.Port}");
        Assert.Contains("NOT_SERVING", SingleMessage(logs, EndpointUnhealthy), StringComparison.Ordinal);

        int sickCalls = sick.Calls;
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("healthy", (await client.SayHelloAsync(new HelloRequest { Name = "x" })).Backend);
        }

        Assert.Equal(sickCalls, sick.Calls);
        Assert.Equal(EndpointState.Unhealthy, GreeterFleet.Snapshot(provider).Endpoints.Single(e => e.Address.EndsWith($":{sick.Port}", StringComparison.Ordinal)).State);

        sick.Health.SetStatus("greeter", HealthCheckResponse.Types.ServingStatus.Serving);
        time.Advance(TimeSpan.FromSeconds(10)); // the next probe comes within one interval
        await WaitForAsync(logs, EndpointHealthy, $":{sick.Port}");
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
        var logsOverall = new FakeLogCollector();
        var logsUnknown = new FakeLogCollector();
        await using var overallClient = Client([overall], time, logsOverall, "");
        await using var unknownClient = Client([unknown], time, logsUnknown, "no-such-service");

        await overallClient.GetRequiredService<Greeter.GreeterClient>().SayHelloAsync(new HelloRequest { Name = "x" });
        await unknownClient.GetRequiredService<Greeter.GreeterClient>().SayHelloAsync(new HelloRequest { Name = "x" });

        await WaitForAsync(logsOverall, EndpointHealthy, $":{overall.Port}");
        await WaitForAsync(logsUnknown, EndpointUnhealthy, $":{unknown.Port}");
        // Grpc.HealthCheck answers NOT_FOUND for a name it does not know.
        Assert.Contains("NOT_FOUND", SingleMessage(logsUnknown, EndpointUnhealthy), StringComparison.Ordinal);
    }
}
