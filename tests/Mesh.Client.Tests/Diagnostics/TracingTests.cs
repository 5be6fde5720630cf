using System.Collections.Concurrent;
using System.Diagnostics;
using Mesh.Client.Diagnostics;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>Requests tag the caller's activity; background work gets activities of the Mesh.Client source.</summary>
public sealed class TracingTests : IAsyncLifetime, IDisposable
{
    private readonly ActivitySource _caller = new("Mesh.Client.Tests.Caller." + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentQueue<Activity> _meshActivities = new();
    private readonly SemaphoreSlim _meshActivityStopped = new(0);
    private readonly ActivityListener _listener;
    private readonly string _service = "traced" + Guid.NewGuid().ToString("N")[..8];
    private TestBackend _backend = null!;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == _caller.Name || s.Name == MeshTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.Source.Name == MeshTelemetry.ActivitySourceName && (a.GetTagItem(MeshTracing.ServiceTag) as string) == _service)
                {
                    _meshActivities.Enqueue(a);
                    _meshActivityStopped.Release();
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync();

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    public void Dispose()
    {
        _listener.Dispose();
        _caller.Dispose();
        _meshActivityStopped.Dispose();
    }

    private TelemetryTestHost Start() =>
        TelemetryTestHost.Start(m => m.AddStaticEndpoints(_service, _backend.Address), baseAddress: $"http://{_service}");

    [Fact]
    public async Task A_client_span_gets_service_endpoint_attempt_and_server_address_tags()
    {
        using var host = Start();
        using (var span = _caller.StartActivity("call", ActivityKind.Client))
        {
            using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();

            Assert.NotNull(span);
            Assert.Equal(_service, span.GetTagItem(MeshTracing.ServiceTag));
            Assert.Equal(_backend.Authority, span.GetTagItem(MeshTracing.EndpointTag));
            Assert.Equal(1, span.GetTagItem(MeshTracing.AttemptTag));
            Assert.Equal("127.0.0.1", span.GetTagItem("server.address"));
            Assert.Equal(_backend.Port, span.GetTagItem("server.port"));
        }
    }

    [Fact]
    public async Task A_server_span_gets_mesh_tags_but_keeps_its_own_server_address()
    {
        using var host = Start();
        using var span = _caller.StartActivity("GET /orders", ActivityKind.Server);
        Assert.NotNull(span);
        span.SetTag("server.address", "orders.example");

        using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
        response.EnsureSuccessStatusCode();

        Assert.Equal(_backend.Authority, span.GetTagItem(MeshTracing.EndpointTag));
        Assert.Equal("orders.example", span.GetTagItem("server.address"));
        Assert.Null(span.GetTagItem("server.port"));
    }

    [Fact]
    public async Task A_retried_request_gets_a_retry_event_and_the_last_attempts_tags()
    {
        await using var failing = await TestBackend.StartAsync("failing");
        failing.Handler = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints(_service, failing.Address, _backend.Address),
            baseAddress: $"http://{_service}");

        var spans = new List<Activity>();
        for (int i = 0; i < 2; i++) // round robin: at least one of the two requests tries the failing endpoint first
        {
            using var span = _caller.StartActivity("call", ActivityKind.Client);
            Assert.NotNull(span);
            using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            spans.Add(span);
        }

        var retried = spans.Where(s => s.Events.Any()).ToArray();
        Assert.NotEmpty(retried);
        Assert.All(retried, span =>
        {
            var retry = Assert.Single(span.Events);
            Assert.Equal(MeshTracing.RetryEvent, retry.Name);
            var tags = retry.Tags.ToDictionary(t => t.Key, t => t.Value);
            Assert.Equal(2, tags[MeshTracing.AttemptTag]);
            Assert.Equal("failure_status", tags[MeshTracing.OutcomeTag]);
            Assert.Equal(failing.Authority, tags[MeshTracing.EndpointTag]);
            Assert.Equal(2, span.GetTagItem(MeshTracing.AttemptTag)); // the span names the attempt that answered
            Assert.Equal(_backend.Authority, span.GetTagItem(MeshTracing.EndpointTag));
            Assert.Equal(_backend.Port, span.GetTagItem("server.port"));
        });
    }

    [Fact]
    public async Task A_hedge_adds_a_hedge_event_to_the_current_span()
    {
        await using var slow = await TestBackend.StartAsync("slow");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        slow.Handler = async ctx =>
        {
            await release.Task.WaitAsync(ctx.RequestAborted);
            await ctx.Response.WriteAsync("slow");
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints(_service, slow.Address, _backend.Address),
            handler: o =>
            {
                o.Hedging.Enabled = true;
                o.Hedging.Delay = TimeSpan.FromMilliseconds(50);
            },
            baseAddress: $"http://{_service}");

        using var span = _caller.StartActivity("call", ActivityKind.Client);
        Assert.NotNull(span);
        using (var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30)))
        {
            response.EnsureSuccessStatusCode();
        }

        release.SetResult();
        var hedge = Assert.Single(span.Events);
        Assert.Equal(MeshTracing.HedgeEvent, hedge.Name);
        Assert.Equal(2, hedge.Tags.Single(t => t.Key == MeshTracing.AttemptTag).Value);
    }

    [Fact]
    public async Task A_heartbeat_is_a_client_activity_of_the_Mesh_Client_source()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints(_service, _backend.Address),
            handler: o => o.HealthCheck.Path = "/healthz", baseAddress: $"http://{_service}");
        using (var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative)))
        {
            response.EnsureSuccessStatusCode();
        }

        // The first probe starts at once, in the background; wait (bounded) until its activity has stopped.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!_meshActivities.Any(a => a.OperationName == MeshTracing.HeartbeatActivity))
        {
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero && await _meshActivityStopped.WaitAsync(left), "no heartbeat activity within 30 s");
        }

        var heartbeat = Assert.Single(_meshActivities, a => a.OperationName == MeshTracing.HeartbeatActivity);
        Assert.Equal(ActivityKind.Client, heartbeat.Kind);
        Assert.Equal(_backend.Authority, heartbeat.GetTagItem(MeshTracing.EndpointTag));
        Assert.Equal(_backend.Port, heartbeat.GetTagItem("server.port"));
        Assert.Equal(ActivityStatusCode.Unset, heartbeat.Status);
    }

    [Fact]
    public async Task Applying_a_resolver_snapshot_is_an_activity_of_the_Mesh_Client_source()
    {
        using var host = Start();
        using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
        response.EnsureSuccessStatusCode();

        var update = Assert.Single(_meshActivities, a => a.OperationName == MeshTracing.ResolverUpdateActivity);
        Assert.Equal("static", update.GetTagItem(MeshTracing.ResolverTag));
        Assert.Equal(1, update.GetTagItem(MeshTracing.CountTag));
    }

    [Fact]
    public async Task Without_a_sampled_activity_nothing_is_tagged()
    {
        using var host = Start();
        // What a sampler's PropagationData decision leaves: an activity that carries context but wants no data.
        var unsampled = new Activity("unsampled") { IsAllDataRequested = false };
        unsampled.Start();
        try
        {
            using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            Assert.False(unsampled.IsAllDataRequested);
            Assert.Empty(unsampled.TagObjects);
        }
        finally
        {
            unsampled.Stop();
        }
    }
}
