using System.Diagnostics;
using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.Tests.Diagnostics;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Integration;

/// <summary>
/// Routes from configuration: weighted splits between mesh services on real Kestrel backends, live weight
/// changes, the empty-backend rule, sticky splits, matches by path, header and method, per-route timeouts and retries,
/// the route in metrics and traces, and validation that names the key.
/// </summary>
public sealed class TrafficSplitTests : IAsyncLifetime
{
    private TestBackend _v1 = null!;
    private TestBackend _v2 = null!;
    private TestBackend _v3 = null!;

    public async Task InitializeAsync()
    {
        _v1 = await TestBackend.StartAsync("v1");
        _v2 = await TestBackend.StartAsync("v2");
        _v3 = await TestBackend.StartAsync("v3");
    }

    public async Task DisposeAsync()
    {
        await _v1.DisposeAsync();
        await _v2.DisposeAsync();
        await _v3.DisposeAsync();
    }

    /// <summary>catalog (v1), catalog-v2 (v2) and catalog-v3 (v3) in configuration, plus <paramref name="routes"/> under Mesh:Services:catalog:Routes.</summary>
    private Dictionary<string, string?> Config(params (string Key, string Value)[] routes)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Services:catalog:http:0"] = _v1.Address,
            ["Services:catalog-v2:http:0"] = _v2.Address,
            ["Services:catalog-v3:http:0"] = _v3.Address,
        };
        foreach (var (key, value) in routes)
        {
            data["Mesh:Services:catalog:Routes:" + key] = value;
        }

        return data;
    }

    private static async Task<Dictionary<string, int>> SendAsync(HttpClient client, int count, int concurrency = 16, Func<int, HttpRequestMessage>? request = null)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        int next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var message = request?.Invoke(i) ?? new HttpRequestMessage(HttpMethod.Get, "/items");
                using var response = await client.SendAsync(message);
                response.EnsureSuccessStatusCode();
                string body = await response.Content.ReadAsStringAsync();
                lock (counts)
                {
                    counts[body] = counts.GetValueOrDefault(body) + 1;
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Worker()));
        return counts;
    }

    [Fact]
    public async Task Shares_are_within_2_percent_of_the_weights_over_10000_requests()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "split"), ("0:Backends:0:Service", "catalog"), ("0:Backends:0:Weight", "70"),
            ("0:Backends:1:Service", "catalog-v2"), ("0:Backends:1:Weight", "20"),
            ("0:Backends:2:Service", "catalog-v3"), ("0:Backends:2:Weight", "10"))).Build();
        await using var provider = MeshTestHost.Build(configuration: configuration);

        var counts = await SendAsync(provider.Client(), 10_000);

        Assert.Equal(10_000, counts.Values.Sum());
        Assert.InRange(counts.GetValueOrDefault("v1") / 10_000.0, 0.68, 0.72);
        Assert.InRange(counts.GetValueOrDefault("v2") / 10_000.0, 0.18, 0.22);
        Assert.InRange(counts.GetValueOrDefault("v3") / 10_000.0, 0.08, 0.12);
    }

    [Fact]
    public async Task A_configuration_reload_moves_traffic_at_once_with_no_failed_request()
    {
        var data = Config(
            ("0:Name", "shift"), ("0:Backends:0:Service", "catalog"), ("0:Backends:0:Weight", "100"),
            ("0:Backends:1:Service", "catalog-v2"), ("0:Backends:1:Weight", "0"));
        var source = new MutableConfigurationSource(data);
        await using var provider = MeshTestHost.Build(configuration: new ConfigurationBuilder().Add(source).Build());
        var client = provider.Client();
        Assert.Equal(new Dictionary<string, int> { ["v1"] = 200 }, await SendAsync(client, 200));

        // Traffic keeps flowing while the weights flip; every request must succeed.
        using var stop = new CancellationTokenSource();
        int failures = 0;
        int sent = 0;
        var load = Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref sent);
            }
        }));
        while (Volatile.Read(ref sent) < 100)
        {
            await Task.Yield();
        }

        var stopwatch = Stopwatch.StartNew();
        data["Mesh:Services:catalog:Routes:0:Backends:0:Weight"] = "0";
        data["Mesh:Services:catalog:Routes:0:Backends:1:Weight"] = "100";
        source.Replace(data);
        // The first request sent after the reload goes to v2, within 1 s of it; and so do the next 200.
        var first = await SendAsync(client, 1, concurrency: 1);
        stopwatch.Stop();
        var after = await SendAsync(client, 200);
        int sentAtSwitch = Volatile.Read(ref sent);
        while (Volatile.Read(ref sent) < sentAtSwitch + 100)
        {
            await Task.Yield();
        }

        await stop.CancelAsync();
        await load;

        Assert.Equal(new Dictionary<string, int> { ["v2"] = 1 }, first);
        Assert.Equal(new Dictionary<string, int> { ["v2"] = 200 }, after);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"traffic moved after {stopwatch.Elapsed}");
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task A_backend_with_no_endpoint_takes_no_share_and_its_weight_moves_to_the_others()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "split"), ("0:Backends:0:Service", "catalog"), ("0:Backends:0:Weight", "1"),
            ("0:Backends:1:Service", "empty"), ("0:Backends:1:Weight", "99"))).Build();
        await using var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("empty"), configuration);

        var counts = await SendAsync(provider.Client(), 300);

        Assert.Equal(new Dictionary<string, int> { ["v1"] = 300 }, counts);
    }

    [Fact]
    public async Task When_every_backend_is_empty_the_request_fails_as_it_would_without_a_route()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "nowhere"), ("0:Backends:0:Service", "empty"))).Build();
        await using var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("empty"), configuration);

        var error = await Assert.ThrowsAsync<NoEndpointsException>(() => provider.Client().GetAsync(new Uri("/items", UriKind.Relative)));

        Assert.Equal("empty", error.ServiceName);
    }

    [Fact]
    public async Task A_service_defined_by_its_routes_alone_needs_no_endpoints_of_its_own()
    {
        var data = Config(("0:Name", "api"), ("0:Matches:0:Path:Value", "/items"), ("0:Backends:0:Service", "catalog-v2"));
        data.Remove("Services:catalog:http:0");
        await using var provider = MeshTestHost.Build(configuration: new ConfigurationBuilder().AddInMemoryCollection(data).Build());
        var client = provider.Client();

        Assert.Equal(new Dictionary<string, int> { ["v2"] = 10 }, await SendAsync(client, 10));

        // A request no route matches has nowhere to go: it fails as a service without endpoints does, naming it.
        var error = await Assert.ThrowsAsync<NoEndpointsException>(() => client.GetAsync(new Uri("/other", UriKind.Relative)));
        Assert.Contains("catalog", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sticky_split_keeps_each_user_on_one_side_and_still_splits_users()
    {
        var data = Config(
            ("0:Name", "canary"), ("0:Sticky", "true"), ("0:Backends:0:Service", "catalog"), ("0:Backends:0:Weight", "50"),
            ("0:Backends:1:Service", "catalog-v2"), ("0:Backends:1:Weight", "50"));
        data["Mesh:Services:catalog:HashPolicies:0:Source"] = "Header";
        data["Mesh:Services:catalog:HashPolicies:0:Name"] = "x-user";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(data).Build();
        await using var provider = MeshTestHost.Build(configuration: configuration);
        var client = provider.Client();

        var sides = new Dictionary<string, string>();
        for (int user = 0; user < 40; user++)
        {
            var counts = await SendAsync(client, 10, concurrency: 2, _ =>
            {
                var message = new HttpRequestMessage(HttpMethod.Get, "/items");
                message.Headers.Add("x-user", $"user-{user}");
                return message;
            });
            var side = Assert.Single(counts); // all 10 requests of this user on one side
            sides[$"user-{user}"] = side.Key;
        }

        Assert.Contains("v1", sides.Values);
        Assert.Contains("v2", sides.Values);
    }

    [Fact]
    public async Task Matches_by_path_header_and_method_pick_the_backend_gateway_api_precedence_says()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "api"), ("0:Matches:0:Path:Type", "PathPrefix"), ("0:Matches:0:Path:Value", "/api"), ("0:Backends:0:Service", "catalog"),
            ("1:Name", "canary"), ("1:Matches:0:Path:Value", "/api"), ("1:Matches:0:Headers:0:Name", "x-canary"),
            ("1:Matches:0:Headers:0:Value", "true"), ("1:Backends:0:Service", "catalog-v2"),
            ("2:Name", "writes"), ("2:Matches:0:Path:Value", "/api"), ("2:Matches:0:Method", "POST"), ("2:Backends:0:Service", "catalog-v3"),
            ("3:Name", "exact"), ("3:Matches:0:Path:Type", "Exact"), ("3:Matches:0:Path:Value", "/api/health"),
            ("3:Backends:0:Service", "catalog-v3"))).Build();
        await using var provider = MeshTestHost.Build(configuration: configuration);
        var client = provider.Client();

        async Task<string> Body(HttpMethod method, string path, bool canary = false)
        {
            using var message = new HttpRequestMessage(method, path);
            if (canary)
            {
                message.Headers.Add("x-canary", "true");
            }

            using var response = await client.SendAsync(message);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadAsStringAsync();
        }

        Assert.Equal("v1", await Body(HttpMethod.Get, "/api/items"));
        Assert.Equal("v2", await Body(HttpMethod.Get, "/api/items", canary: true));
        Assert.Equal("v3", await Body(HttpMethod.Post, "/api/items", canary: true)); // a method match outranks a header match
        Assert.Equal("v3", await Body(HttpMethod.Get, "/api/health", canary: true)); // an exact path outranks everything
        Assert.Equal("v1", await Body(HttpMethod.Get, "/other")); // no route: the service's own endpoints
        Assert.Equal("/api/items", _v2.Received.Single().PathAndQuery);
    }

    [Fact]
    public async Task A_route_attempt_timeout_and_retry_override_apply_only_to_requests_through_it()
    {
        var hang = new TaskCompletionSource();
        _v2.Handler = async context => await hang.Task.WaitAsync(context.RequestAborted);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "slow"), ("0:Matches:0:Path:Value", "/slow"), ("0:AttemptTimeout", "00:00:00.200"), ("0:Retry:MaxAttempts", "1"),
            ("0:Backends:0:Service", "catalog-v2"))).Build();
        await using var provider = MeshTestHost.Build(configuration: configuration);
        var client = provider.Client();
        try
        {
            var stopwatch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<Exception>(() => client.GetAsync(new Uri("/slow", UriKind.Relative)));
            stopwatch.Stop();

            Assert.Contains("timed out", error.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}; the service's attempt timeout is 10 s");
            Assert.Equal(1, _v2.Count); // MaxAttempts 1: not retried
        }
        finally
        {
            hang.TrySetResult();
        }
    }

    [Fact]
    public async Task A_route_retry_override_sets_how_many_attempts_a_failing_backend_gets()
    {
        _v2.Handler = context =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "once"), ("0:Matches:0:Path:Value", "/once"), ("0:Retry:MaxAttempts", "1"), ("0:Backends:0:Service", "catalog-v2"),
            ("1:Name", "five"), ("1:Matches:0:Path:Value", "/five"), ("1:Retry:MaxAttempts", "5"), ("1:Retry:Backoff", "00:00:00"),
            ("1:Backends:0:Service", "catalog-v2"))
            .Append(new("Mesh:Services:catalog-v2:PassiveHealth:Enabled", "false"))).Build();
        await using var provider = MeshTestHost.Build(configuration: configuration);
        var client = provider.Client();

        using (var once = await client.GetAsync(new Uri("/once", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, once.StatusCode);
        }

        Assert.Equal(1, _v2.Count);

        using (var five = await client.GetAsync(new Uri("/five", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, five.StatusCode);
        }

        Assert.Equal(6, _v2.Count);
    }

    [Fact]
    public async Task A_route_retry_status_code_list_retries_those_statuses_and_only_through_that_route()
    {
        // v2 answers 500 to its first two requests, then 200: a 500 is the application's answer, retried only where a
        // route lists it (as HTTPRoute retry.codes do).
        int answered = 0;
        _v2.Handler = context =>
        {
            context.Response.StatusCode = Interlocked.Increment(ref answered) <= 2 ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK;
            return context.Response.WriteAsync("v2");
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "codes"), ("0:Matches:0:Path:Value", "/codes"), ("0:Retry:StatusCodes:0", "500"), ("0:Retry:Backoff", "00:00:00"),
            ("0:Backends:0:Service", "catalog-v2"),
            ("1:Name", "plain"), ("1:Matches:0:Path:Value", "/plain"), ("1:Backends:0:Service", "catalog-v2"))).Build();
        await using var provider = MeshTestHost.Build(configuration: configuration);
        var client = provider.Client();

        using (var plain = await client.GetAsync(new Uri("/plain", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, plain.StatusCode);
        }

        Assert.Equal(1, _v2.Count); // the service's default list (502, 503, 504) does not retry a 500

        using (var codes = await client.GetAsync(new Uri("/codes", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, codes.StatusCode);
        }

        Assert.Equal(3, _v2.Count); // 500, then retried: 200
    }

    [Fact]
    public async Task The_route_name_tags_the_attempt_metric_and_the_callers_span_and_unrouted_requests_carry_no_route()
    {
        using var caller = new ActivitySource("Mesh.Client.Tests.Routes." + Guid.NewGuid().ToString("N"));
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == caller.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Config(
            ("0:Name", "canary"), ("0:Matches:0:Path:Value", "/routed"), ("0:Backends:0:Service", "catalog-v2"))).Build();
        using var host = TelemetryTestHost.Start(configuration: configuration);
        using var requests = host.Collect<long>(MeshInstruments.Requests);

        using (var span = caller.StartActivity("call", ActivityKind.Client))
        {
            using var response = await host.Client.GetAsync(new Uri("/routed", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            Assert.Equal("canary", span!.GetTagItem(MeshTracing.RouteTag));
        }

        using (var span = caller.StartActivity("call", ActivityKind.Client))
        {
            using var response = await host.Client.GetAsync(new Uri("/plain", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            Assert.Null(span!.GetTagItem(MeshTracing.RouteTag));
        }

        await requests.WaitForMeasurementsAsync(2, TimeSpan.FromSeconds(10));
        var attempts = requests.GetMeasurementSnapshot();
        var routed = Assert.Single(attempts, m => m.Tag(MeshInstruments.ServiceTag) == "catalog-v2");
        Assert.Equal("canary", routed.Tag(MeshInstruments.RouteTag));
        var plain = Assert.Single(attempts, m => m.Tag(MeshInstruments.ServiceTag) == "catalog");
        Assert.Null(plain.Tag(MeshInstruments.RouteTag));
    }

    [Theory]
    [InlineData("0:Backends:0:Weight", "-1", "'Mesh:Services:catalog:Routes:0:Backends:0:Weight' is '-1'")]
    [InlineData("0:Matches:0:Path:Value", "items", "'Mesh:Services:catalog:Routes:0:Matches:0:Path:Value' is 'items'")]
    [InlineData("0:Matches:0:Path:Type", "Regex", "'Mesh:Services:catalog:Routes:0:Matches:0:Path:Type' is 'Regex'")]
    [InlineData("0:Matches:0:Headers:0:Name", "x-a", "'Mesh:Services:catalog:Routes:0:Matches:0:Headers:0:Value' is ''")]
    [InlineData("0:Retry:MaxAttempts", "9", "'Mesh:Services:catalog:Routes:0:Retry:MaxAttempts' is '9'")]
    [InlineData("0:Retry:StatusCodes:0", "200", "'Mesh:Services:catalog:Routes:0:Retry:StatusCodes' is '200'; expected HTTP status codes from 400 to 599")]
    [InlineData("0:Stiky", "true", "'Mesh:Services:catalog:Routes:0:Stiky' is not a setting")]
    [InlineData("1:Name", "r", "'Mesh:Services:catalog:Routes:1:Backends' is ''")]
    public async Task A_bad_route_fails_start_up_naming_the_key(string key, string value, string expected)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(Config(("0:Name", "r"), ("0:Backends:0:Service", "catalog-v2"), (key, value)));
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("c", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_regular_expression_is_rejected_naming_the_key()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(Config(("0:Name", "r"), ("0:Backends:0:Service", "catalog-v2"),
            ("0:Matches:0:Path:Type", "RegularExpression"), ("0:Matches:0:Path:Value", "/v[0-9")));
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("c", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("'Mesh:Services:catalog:Routes:0:Matches:0:Path:Value' is '/v[0-9'; expected a valid .NET regular expression", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_route_reload_is_rejected_and_the_last_good_routes_stay_in_force()
    {
        var data = Config(("0:Name", "r"), ("0:Backends:0:Service", "catalog-v2"));
        var source = new MutableConfigurationSource(data);
        await using var provider = MeshTestHost.Build(configuration: new ConfigurationBuilder().Add(source).Build());
        var client = provider.Client();
        Assert.Equal(new Dictionary<string, int> { ["v2"] = 20 }, await SendAsync(client, 20));

        data["Mesh:Services:catalog:Routes:0:Backends:0:Service"] = "catalog-v3";
        data["Mesh:Services:catalog:Routes:0:Backends:0:Weight"] = "-5";
        source.Replace(data);

        Assert.Equal(new Dictionary<string, int> { ["v2"] = 20 }, await SendAsync(client, 20));
        var rejected = Assert.Single(provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().RejectedConfiguration);
        Assert.Contains("'Mesh:Services:catalog:Routes:0:Backends:0:Weight' is '-5'", rejected, StringComparison.Ordinal);

        data["Mesh:Services:catalog:Routes:0:Backends:0:Weight"] = "1";
        source.Replace(data);

        Assert.Equal(new Dictionary<string, int> { ["v3"] = 20 }, await SendAsync(client, 20));
    }
}
