using System.Net;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Mesh.Client.Tests.Integration;

/// <summary>Health and resilience end to end: real Kestrel backends on loopback that fail, hang, die and come back.</summary>
public sealed class ResilienceIntegrationTests : BackendFleetTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    // Round robin: these tests need to know which backend an attempt goes to. (Peak-EWMA, the default, steers away from
    // a failing backend by itself, so a killed one would never collect the failures that eject it.)
    private ServiceProvider Host(Action<MeshServiceOptions>? configure = null, int count = 3) =>
        MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", Backends.Take(count).Select(b => b.Address).ToArray()), handler: o =>
        {
            o.Balancer = BalancerNames.RoundRobin;
            configure?.Invoke(o);
        });

    private static ServiceState State(ServiceProvider provider) =>
        provider.GetRequiredService<ServiceRegistry>().GetClient(MeshTestHost.ClientName).All.Single();

    private static TaskCompletionSource<HealthTransition> Await(ServiceState state, HealthTransitionKind kind, string? endpointKey = null)
    {
        var tcs = new TaskCompletionSource<HealthTransition>(TaskCreationOptions.RunContinuationsAsynchronously);
        state.HealthTransitioned += t =>
        {
            if (t.Kind == kind && (endpointKey is null || t.Endpoint?.Key == endpointKey))
            {
                tcs.TrySetResult(t);
            }
        };
        return tcs;
    }

    [Fact]
    public async Task A_backend_killed_mid_traffic_fails_no_idempotent_get_is_ejected_within_five_failures_and_readmitted_after_restart()
    {
        using var provider = Host(o =>
        {
            o.PassiveHealth.BaseEjectionTime = TimeSpan.FromMilliseconds(500);
            o.PassiveHealth.MaxEjectionPercent = 50;
        });
        var client = provider.Client();
        using (var warm = await client.GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var state = State(provider);
        var victim = Backends[1];
        var endpoint = state.Endpoints.Find("http://" + victim.Authority)!;
        var ejected = Await(state, HealthTransitionKind.Ejected, endpoint.Key);
        var readmitted = Await(state, HealthTransitionKind.Readmitted, endpoint.Key);

        for (int i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync(new Uri($"/before/{i}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        long attemptsAtEjection = -1;
        state.HealthTransitioned += t =>
        {
            if (t.Kind == HealthTransitionKind.Ejected && ReferenceEquals(t.Endpoint, endpoint))
            {
                Interlocked.CompareExchange(ref attemptsAtEjection, endpoint.Load.Completed, -1);
            }
        };

        int port = victim.Port;
        await victim.DisposeAsync(); // connections are now refused
        long attemptsBeforeKill = endpoint.Load.Completed;

        for (int i = 0; i < 60; i++)
        {
            using var response = await client.GetAsync(new Uri($"/during/{i}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await ejected.Task.WaitAsync(s_wait);
        // Ejected within 5 failed attempts (consecutive failures, or earlier by the success-rate rule).
        Assert.InRange(Interlocked.Read(ref attemptsAtEjection) - attemptsBeforeKill, 1, 5);

        var restarted = await TestBackend.StartAsync(port, "b1-restarted");
        Backends[1] = restarted;
        var deadline = DateTime.UtcNow + s_wait;
        while (!readmitted.Task.IsCompleted && DateTime.UtcNow < deadline)
        {
            using var response = await client.GetAsync(new Uri("/after", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await readmitted.Task.WaitAsync(TimeSpan.FromSeconds(1));
        Assert.True(restarted.Count > 0);
    }

    [Fact]
    public async Task With_heartbeats_a_dead_backend_is_marked_unhealthy_without_traffic()
    {
        foreach (var backend in Backends)
        {
            backend.Handler = ctx => ctx.Response.WriteAsync("ok");
        }

        using var provider = Host(o =>
        {
            o.HealthCheck.Path = "/healthz";
            o.HealthCheck.Interval = TimeSpan.FromMilliseconds(200);
            o.HealthCheck.Timeout = TimeSpan.FromSeconds(2);
        });
        using (var warm = await provider.Client().GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var state = State(provider);
        var key = "http://" + Backends[2].Authority;
        var unhealthy = Await(state, HealthTransitionKind.ActiveUnhealthy, key);
        await Backends[2].DisposeAsync();
        Backends.RemoveAt(2);

        var transition = await unhealthy.Task.WaitAsync(s_wait);
        Assert.DoesNotContain(state.Endpoints.Routable.ToArray(), e => e.Key == key);
        Assert.Contains("/healthz", transition.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_every_backend_fails_retries_stay_within_the_budget()
    {
        foreach (var backend in Backends)
        {
            backend.Handler = ctx =>
            {
                ctx.Response.StatusCode = 503;
                return Task.CompletedTask;
            };
        }

        using var provider = Host(o => o.Retry.SameEndpointBackoff = TimeSpan.Zero);
        var client = provider.Client();
        const int requests = 600;
        for (int i = 0; i < requests; i++)
        {
            using var response = await client.GetAsync(new Uri($"/{i}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        int attempts = Backends.Sum(b => b.Count);
        // Finagle's budget: 20 % of requests plus a reserve of 10 retries/s × 10 s ttl.
        Assert.InRange(attempts, requests + 1, (int)(1.2 * requests) + 100);
    }

    [Fact]
    public async Task A_cancelled_caller_is_never_counted_against_the_endpoint_and_not_retried()
    {
        var arrived = new SemaphoreSlim(0);
        foreach (var backend in Backends)
        {
            backend.Handler = async ctx =>
            {
                arrived.Release();
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            };
        }

        using var provider = Host();
        var client = provider.Client();
        for (int i = 0; i < 6; i++)
        {
            using var cts = new CancellationTokenSource();
            var call = client.GetAsync(new Uri("/hang", UriKind.Relative), cts.Token);
            Assert.True(await arrived.WaitAsync(s_wait));
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        }

        var state = State(provider);
        Assert.Equal(6, Backends.Sum(b => b.Count));
        Assert.All(state.Endpoints.Endpoints.ToArray(), e =>
        {
            Assert.Equal(0, e.Health.ConsecutiveFailures);
            Assert.Equal(EjectionPhase.None, e.Health.Phase);
        });
    }

    [Fact]
    public async Task A_post_is_not_retried_unless_the_request_opts_in()
    {
        foreach (var backend in Backends)
        {
            backend.Handler = ctx =>
            {
                ctx.Response.StatusCode = 503;
                return Task.CompletedTask;
            };
        }

        using var provider = Host();
        var client = provider.Client();
        using (var response = await client.PostAsync(new Uri("/orders", UriKind.Relative), new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal(1, Backends.Sum(b => b.Count));

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/orders", UriKind.Relative)) { Content = new StringContent("again") };
        request.Options.Set(MeshRequestOptions.AllowRetry, true);
        using (var response = await client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal(1 + 3, Backends.Sum(b => b.Count));
        Assert.All(Backends.SelectMany(b => b.Received).Where(r => r.Method == "POST" && r.Body.Length == 5),
            r => Assert.Equal("again", System.Text.Encoding.UTF8.GetString(r.Body)));
    }

    [Fact]
    public async Task Buffered_content_is_replayed_on_another_endpoint_and_a_non_rewindable_stream_is_not_retried()
    {
        Backends[0].Handler = ctx =>
        {
            ctx.Response.StatusCode = 503;
            return Task.CompletedTask;
        };
        using var provider = Host(o => o.Balancer = BalancerNames.RoundRobin);
        var client = provider.Client();

        // Round robin starts at b0 (503); the PUT is replayed on b1 with its body.
        using (var response = await client.PutAsync(new Uri("/items/1", UriKind.Relative), new StringContent("payload")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal("payload", System.Text.Encoding.UTF8.GetString(Backends[1].Received.Single().Body));

        // Next turn is b2 (fine), then b0 again: a stream of unknown length sent to b0 is returned as is.
        using (var ok = await client.GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var stream = new NonSeekableStream(System.Text.Encoding.UTF8.GetBytes("streamed"));
        using (var response = await client.PutAsync(new Uri("/items/2", UriKind.Relative), new StreamContent(stream)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal(2, Backends[0].Count);
    }

    [Fact]
    public async Task Retry_after_is_honoured_when_the_only_endpoint_is_retried_and_too_long_a_wait_is_returned()
    {
        int calls = 0;
        Backends[0].Handler = ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                ctx.Response.StatusCode = 503;
                ctx.Response.Headers.RetryAfter = "0";
            }

            return ctx.Response.WriteAsync("ok");
        };
        using var provider = Host(count: 1);
        var client = provider.Client();

        using (var response = await client.GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(2, Backends[0].Count);

        Backends[0].Handler = ctx =>
        {
            ctx.Response.StatusCode = 503;
            ctx.Response.Headers.RetryAfter = "3600";
            return Task.CompletedTask;
        };
        using (var response = await client.GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal(3, Backends[0].Count);
    }

    [Fact]
    public async Task A_hanging_backend_is_cut_off_by_the_attempt_timeout_counted_as_a_timeout_and_the_request_retried()
    {
        Backends[0].Handler = ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        // Long enough that the healthy retry never meets it on a loaded machine; the hung attempt always does.
        using var provider = Host(o => o.Timeouts.Attempt = TimeSpan.FromSeconds(2));
        var client = provider.Client();

        using (var response = await client.GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var hung = State(provider).Endpoints.Find("http://" + Backends[0].Authority)!;
        Assert.Equal(1, hung.Health.ConsecutiveFailures);
    }

    [Fact]
    public async Task The_total_timeout_ends_the_request_with_a_timeout()
    {
        foreach (var backend in Backends)
        {
            backend.Handler = ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        using var provider = Host(o => o.Timeouts.Total = TimeSpan.FromMilliseconds(300));
        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => provider.Client().GetAsync(new Uri("/", UriKind.Relative)));
        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("Timeouts:Total", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hedge_answers_for_a_slow_backend_and_the_loser_is_cancelled_not_counted()
    {
        var slowAborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Backends[0].Handler = async ctx =>
        {
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            slowAborted.TrySetResult();
        };
        using var provider = Host(o =>
        {
            o.Hedging.Enabled = true;
            o.Hedging.Delay = TimeSpan.FromMilliseconds(50);
        });
        var client = provider.Client();

        for (int i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync(new Uri("/", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.NotEqual("b0", await response.Content.ReadAsStringAsync());
        }

        await slowAborted.Task.WaitAsync(s_wait);
        var slow = State(provider).Endpoints.Find("http://" + Backends[0].Authority)!;
        Assert.Equal(0, slow.Health.ConsecutiveFailures);
        Assert.Equal(EjectionPhase.None, slow.Health.Phase);
    }

    [Fact]
    public async Task With_fail_fast_panic_and_every_endpoint_unavailable_a_request_fails_after_the_bounded_wait()
    {
        using var provider = Host(o =>
        {
            o.Panic.Mode = PanicMode.FailFast;
            o.Timeouts.WaitForEndpoint = TimeSpan.FromMilliseconds(200);
        });
        var client = provider.Client();
        using (var warm = await client.GetAsync(new Uri("/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var state = State(provider);
        foreach (var endpoint in state.Endpoints.Endpoints)
        {
            endpoint.Health.SetActive(HealthOpinion.Unhealthy);
        }

        state.OnHealthChanged();
        var error = await Assert.ThrowsAsync<NoEndpointsException>(() => client.GetAsync(new Uri("/", UriKind.Relative)));
        Assert.Contains("WaitForEndpoint", error.Message, StringComparison.Ordinal);
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
    }
}
