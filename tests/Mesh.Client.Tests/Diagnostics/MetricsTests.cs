using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.Health;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>Each instrument of the <c>Mesh.Client</c> meter, collected with a <see cref="MetricCollector{T}"/> during real requests.</summary>
public sealed class MetricsTests : BackendFleetTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private static async Task SendAsync(HttpClient client, int count, HttpStatusCode expected = HttpStatusCode.OK)
    {
        for (int i = 0; i < count; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            Assert.Equal(expected, response.StatusCode);
        }
    }

    [Fact]
    public async Task Requests_counter_counts_each_attempt_by_client_service_endpoint_and_outcome()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses));
        using var collector = host.Collect<long>(MeshInstruments.Requests);

        await SendAsync(host.Client, 6);

        var requests = collector.GetMeasurementSnapshot();
        Assert.Equal(6, requests.Sum(m => m.Value));
        Assert.All(requests, m =>
        {
            Assert.Equal(MeshTestHost.ClientName, m.Tag(MeshInstruments.ClientTag));
            Assert.Equal("catalog", m.Tag(MeshInstruments.ServiceTag));
            Assert.Equal("success", m.Tag(MeshInstruments.OutcomeTag));
        });
        foreach (var backend in Backends)
        {
            Assert.Equal(2, requests.Where(m => m.Tag(MeshInstruments.EndpointTag) == backend.Authority).Sum(m => m.Value));
        }
    }

    [Fact]
    public async Task Request_duration_histogram_records_seconds_for_every_attempt()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address));
        using var collector = host.Collect<double>(MeshInstruments.RequestDuration);

        await SendAsync(host.Client, 3);

        var durations = collector.GetMeasurementSnapshot();
        Assert.Equal(3, durations.Count);
        Assert.All(durations, m =>
        {
            Assert.InRange(m.Value, 0, s_wait.TotalSeconds); // seconds, not milliseconds or ticks
            Assert.True(m.Value > 0);
            Assert.Equal(Backends[0].Authority, m.Tag(MeshInstruments.EndpointTag));
            Assert.Equal("success", m.Tag(MeshInstruments.OutcomeTag));
        });
    }

    [Fact]
    public async Task A_503_is_recorded_with_outcome_failure_status()
    {
        Backends[0].Handler = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address), handler: o => o.Retry.Enabled = false);
        using var requestCollector = host.Collect<long>(MeshInstruments.Requests);
        using var durationCollector = host.Collect<double>(MeshInstruments.RequestDuration);

        await SendAsync(host.Client, 2, HttpStatusCode.ServiceUnavailable);

        var requests = requestCollector.GetMeasurementSnapshot();
        Assert.Equal(2, requests.Sum(m => m.Value));
        Assert.All(requests, m => Assert.Equal("failure_status", m.Tag(MeshInstruments.OutcomeTag)));
        Assert.All(durationCollector.GetMeasurementSnapshot(), m => Assert.Equal("failure_status", m.Tag(MeshInstruments.OutcomeTag)));
    }

    [Fact]
    public async Task A_refused_connection_is_recorded_with_outcome_connect_failure()
    {
        var closed = await TestBackend.StartAsync("closed");
        string address = closed.Address;
        await closed.DisposeAsync(); // nothing listens on this port any more
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", address), handler: o => o.Retry.Enabled = false);
        using var requests = host.Collect<long>(MeshInstruments.Requests);

        await Assert.ThrowsAsync<HttpRequestException>(() => host.Client.GetAsync(new Uri("/items", UriKind.Relative)));

        var request = Assert.Single(requests.GetMeasurementSnapshot());
        Assert.Equal("connect_failure", request.Tag(MeshInstruments.OutcomeTag));
    }

    [Fact]
    public async Task Endpoint_tag_is_left_out_when_IncludeEndpointInMetrics_is_off()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses), clientOptions: o => o.IncludeEndpointInMetrics = false);
        using var requests = host.Collect<long>(MeshInstruments.Requests);
        using var durations = host.Collect<double>(MeshInstruments.RequestDuration);
        using var inFlightCollector = host.Collect<int>(MeshInstruments.EndpointInFlight);

        await SendAsync(host.Client, 3);

        Assert.All(requests.GetMeasurementSnapshot(), m => Assert.Null(m.Tag(MeshInstruments.EndpointTag)));
        Assert.All(durations.GetMeasurementSnapshot(), m => Assert.Null(m.Tag(MeshInstruments.EndpointTag)));
        var inFlight = Assert.Single(inFlightCollector.Observe()); // one series for the service
        Assert.Null(inFlight.Tag(MeshInstruments.EndpointTag));
        Assert.Equal(0, inFlight.Value);
    }

    [Fact]
    public async Task In_flight_is_observed_per_endpoint_while_a_request_is_outstanding()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var backend in Backends.Take(2))
        {
            backend.Handler = async ctx =>
            {
                arrived.TrySetResult();
                await release.Task;
                await ctx.Response.WriteAsync("late");
            };
        }

        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address, Backends[1].Address));
        using var inFlight = host.Collect<int>(MeshInstruments.EndpointInFlight);

        var pending = host.Client.GetAsync(new Uri("/items", UriKind.Relative));
        await arrived.Task.WaitAsync(s_wait);
        var during = inFlight.Observe();
        release.SetResult();
        using (var response = await pending.WaitAsync(s_wait))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var after = inFlight.Observe();

        var busy = Backends.Take(2).Single(b => b.Count == 1);
        var idle = Backends.Take(2).Single(b => b.Count == 0);
        Assert.Equal(1, during.Single(m => m.Tag(MeshInstruments.EndpointTag) == busy.Authority).Value);
        Assert.Equal(0, during.Single(m => m.Tag(MeshInstruments.EndpointTag) == idle.Authority).Value);
        Assert.Equal(2, after.Count);
        Assert.All(after, m => Assert.Equal(0, m.Value));
    }

    [Fact]
    public async Task Endpoints_gauge_reports_each_state_and_panic_gauge_reports_panic()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses));
        using var endpoints = host.Collect<int>(MeshInstruments.Endpoints);
        using var panic = host.Collect<int>(MeshInstruments.Panic);
        await SendAsync(host.Client, 1);
        var state = host.Service();
        var members = state.Endpoints.Endpoints.ToArray();

        int Count(string s) => endpoints.Observe().Single(m => m.Tag(MeshInstruments.StateTag) == s).Value;
        double Panic() => panic.Observe().Single().Value;

        Assert.Equal((3, 0, 0, 0.0), (Count("available"), Count("ejected"), Count("unhealthy"), Panic()));

        // The gauges read the opinions, whoever set them; the real ejection path is in the test below.
        members[0].Health.SetPassive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        Assert.Equal((2, 1, 0, 0.0), (Count("available"), Count("ejected"), Count("unhealthy"), Panic()));

        members[1].Health.SetActive(HealthOpinion.Unhealthy); // 1 of 3 available: below the 50 % panic threshold
        state.OnHealthChanged();
        Assert.Equal((1, 1, 1, 1.0), (Count("available"), Count("ejected"), Count("unhealthy"), Panic()));
    }

    [Fact]
    public async Task A_real_ejection_is_counted_with_its_endpoint_and_shows_in_the_endpoints_gauge()
    {
        var failing = Backends[1];
        failing.Handler = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses));
        using var ejections = host.Collect<long>(MeshInstruments.Ejections);
        using var endpoints = host.Collect<int>(MeshInstruments.Endpoints);
        using var requests = host.Collect<long>(MeshInstruments.Requests);

        // Every request succeeds (a 503 is retried on another endpoint) until the failing one has failed five times in
        // a row and passive health ejects it.
        await SendAsync(host.Client, 15);

        var ejection = Assert.Single(ejections.GetMeasurementSnapshot());
        Assert.Equal(1, ejection.Value);
        Assert.Equal(failing.Authority, ejection.Tag(MeshInstruments.EndpointTag));
        Assert.Equal("catalog", ejection.Tag(MeshInstruments.ServiceTag));
        var byState = endpoints.Observe().ToDictionary(m => m.Tag(MeshInstruments.StateTag)!, m => m.Value);
        Assert.Equal((2, 1, 0), (byState["available"], byState["ejected"], byState["unhealthy"]));
        var onFailing = requests.GetMeasurementSnapshot().Where(m => m.Tag(MeshInstruments.EndpointTag) == failing.Authority).ToArray();
        Assert.Equal(5, onFailing.Length);
        Assert.All(onFailing, m => Assert.Equal("failure_status", m.Tag(MeshInstruments.OutcomeTag)));

        int before = failing.Count;
        await SendAsync(host.Client, 6);
        Assert.Equal(before, failing.Count); // ejected: no more traffic
        Assert.Single(ejections.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task A_retry_on_another_endpoint_is_counted_with_the_outcome_it_retried()
    {
        Backends[0].Handler = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address, Backends[1].Address));
        using var requests = host.Collect<long>(MeshInstruments.Requests);
        using var retryCollector = host.Collect<long>(MeshInstruments.Retries);
        using var exhausted = host.Collect<long>(MeshInstruments.RetryBudgetExhausted);

        await SendAsync(host.Client, 4); // every request succeeds: each 503 is retried on the other endpoint

        var failed = requests.GetMeasurementSnapshot().Where(m => m.Tag(MeshInstruments.OutcomeTag) == "failure_status").ToArray();
        var retries = retryCollector.GetMeasurementSnapshot();
        Assert.NotEmpty(failed);
        Assert.All(failed, m => Assert.Equal(Backends[0].Authority, m.Tag(MeshInstruments.EndpointTag)));
        Assert.Equal(failed.Length, retries.Sum(m => m.Value)); // one retry per failed attempt
        Assert.All(retries, m =>
        {
            Assert.Equal("failure_status", m.Tag(MeshInstruments.OutcomeTag));
            Assert.Equal("catalog", m.Tag(MeshInstruments.ServiceTag));
        });
        Assert.Equal(4 + failed.Length, requests.GetMeasurementSnapshot().Sum(m => m.Value)); // attempts: requests + retries
        Assert.Empty(exhausted.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task A_retry_refused_by_an_empty_budget_is_counted_as_budget_exhausted()
    {
        foreach (var backend in Backends)
        {
            backend.Handler = ctx =>
            {
                ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return Task.CompletedTask;
            };
        }

        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses), handler: o =>
        {
            o.Retry.BudgetPercent = 0;
            o.Retry.MinRetriesPerSecond = 0;
        });
        using var exhausted = host.Collect<long>(MeshInstruments.RetryBudgetExhausted);
        using var retries = host.Collect<long>(MeshInstruments.Retries);
        using var requests = host.Collect<long>(MeshInstruments.Requests);

        await SendAsync(host.Client, 1, HttpStatusCode.ServiceUnavailable);

        Assert.Equal(1, Assert.Single(exhausted.GetMeasurementSnapshot()).Value);
        Assert.Empty(retries.GetMeasurementSnapshot());
        Assert.Equal(1, requests.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task A_hedge_is_counted_when_the_first_attempt_is_slow()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Backends[0].Handler = async ctx =>
        {
            await release.Task.WaitAsync(ctx.RequestAborted);
            await ctx.Response.WriteAsync("slow");
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address, Backends[1].Address), handler: o =>
        {
            o.Hedging.Enabled = true;
            o.Hedging.Delay = TimeSpan.FromMilliseconds(50);
        });
        using var hedges = host.Collect<long>(MeshInstruments.Hedges);
        using var requests = host.Collect<long>(MeshInstruments.Requests);

        // Round robin sends the first attempt to the slow endpoint; after the hedging delay a hedge goes to the other,
        // answers, and wins.
        using (var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative)).WaitAsync(s_wait))
        {
            Assert.Equal("b1", await response.Content.ReadAsStringAsync());
        }

        release.SetResult();
        Assert.Equal(1, Assert.Single(hedges.GetMeasurementSnapshot()).Value);
        await requests.WaitForMeasurementsAsync(2, s_wait);
        var attempts = requests.GetMeasurementSnapshot();
        Assert.Equal(2, attempts.Count);
        Assert.Contains(attempts, m => m.Tag(MeshInstruments.EndpointTag) == Backends[1].Authority && m.Tag(MeshInstruments.OutcomeTag) == "success");
        Assert.Contains(attempts, m => m.Tag(MeshInstruments.EndpointTag) == Backends[0].Authority && m.Tag(MeshInstruments.OutcomeTag) == "canceled");
    }

    [Fact]
    public async Task Heartbeats_record_their_duration_and_result_per_endpoint()
    {
        Backends[1].Handler = ctx =>
        {
            ctx.Response.StatusCode = ctx.Request.Path == "/healthz" ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            return Task.CompletedTask;
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends[0].Address, Backends[1].Address),
            handler: o => o.HealthCheck.Path = "/healthz");
        using var heartbeats = host.Collect<double>(MeshInstruments.HeartbeatDuration);

        await SendAsync(host.Client, 1); // creates the service; each endpoint is probed at once

        await heartbeats.WaitForMeasurementsAsync(2, s_wait);
        var beats = heartbeats.GetMeasurementSnapshot();
        var healthy = beats.First(m => m.Tag(MeshInstruments.EndpointTag) == Backends[0].Authority);
        var unhealthy = beats.First(m => m.Tag(MeshInstruments.EndpointTag) == Backends[1].Authority);
        Assert.Equal("healthy", healthy.Tag(MeshInstruments.HeartbeatResultTag));
        Assert.Equal("unhealthy", unhealthy.Tag(MeshInstruments.HeartbeatResultTag));
        Assert.All(beats, m => Assert.InRange(m.Value, 0, s_wait.TotalSeconds));
    }

    [Fact]
    public async Task Resolver_update_from_a_configuration_reload_is_counted_with_its_resolver()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Services:catalog:http:0"] = Backends[0].Address,
        }).Build();
        using var host = TelemetryTestHost.Start(configuration: configuration);
        using var updateCollector = host.Collect<long>(MeshInstruments.ResolverUpdates);
        await SendAsync(host.Client, 1);
        Assert.Equal(1, updateCollector.GetMeasurementSnapshot().Sum(m => m.Value)); // the first snapshot

        configuration["Services:catalog:http:1"] = Backends[1].Address;
        configuration.Reload();
        configuration.Reload(); // same endpoints again: not an update

        var updates = updateCollector.GetMeasurementSnapshot();
        Assert.Equal(2, updates.Sum(m => m.Value));
        Assert.All(updates, m => Assert.Equal("configuration", m.Tag(MeshInstruments.ResolverTag)));
        Assert.Equal(2, host.Service().Endpoints.Count);
    }

    [Fact]
    public async Task Resolver_errors_are_counted_every_time()
    {
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses));
        using var errorCollector = host.Collect<long>(MeshInstruments.ResolverErrors);
        await SendAsync(host.Client, 1);
        var state = host.Service();

        state.OnError(new InvalidOperationException("source unreachable"));
        state.OnError(new InvalidOperationException("source unreachable"));

        var errors = errorCollector.GetMeasurementSnapshot();
        Assert.Equal(2, errors.Sum(m => m.Value));
        Assert.All(errors, m => Assert.Equal("static", m.Tag(MeshInstruments.ResolverTag)));
    }

    [Fact]
    public async Task Nothing_is_recorded_for_another_service_providers_meter()
    {
        using var observed = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses));
        using var other = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Addresses));
        using var observedRequests = observed.Collect<long>(MeshInstruments.Requests);
        using var otherRequests = other.Collect<long>(MeshInstruments.Requests);

        await SendAsync(other.Client, 2);

        Assert.Empty(observedRequests.GetMeasurementSnapshot());
        Assert.Equal(2, otherRequests.GetMeasurementSnapshot().Sum(m => m.Value));
    }
}
