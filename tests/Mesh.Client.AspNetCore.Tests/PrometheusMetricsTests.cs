using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Mesh.Client.Demo;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>
/// The demo's Prometheus endpoint (<see cref="DemoMetrics"/>, the OpenTelemetry exporter) on a free port, scraped over
/// HTTP while traffic exercises every instrument, must carry every metric name the Grafana dashboard queries.
/// </summary>
/// <summary>
/// Runs alone. The OpenTelemetry SDK selects meters by name process-wide (<c>AddMeter("Mesh.Client")</c>), so a mesh of
/// another test running at the same time publishes the same instruments first and this provider drops this host's as
/// duplicates. An application has one mesh per process; a test run has many.
/// </summary>
[CollectionDefinition(nameof(PrometheusMetricsTests), DisableParallelization = true)]
public sealed class PrometheusRunsAlone;

[Collection(nameof(PrometheusMetricsTests))]
public sealed partial class PrometheusMetricsTests
{
    [Fact]
    public async Task Every_metric_the_Grafana_dashboard_queries_is_served_at_the_demo_metrics_endpoint()
    {
        var wanted = DashboardMetricNames();
        Assert.Contains("mesh_client_requests_total", wanted);
        Assert.Contains("mesh_client_request_duration_seconds_bucket", wanted);

        await using var good = await TestBackend.StartAsync("good");
        await using var slow = await TestBackend.StartAsync("slow");
        await using var failing = await TestBackend.StartAsync("failing");
        slow.Handler = async context => { await Task.Delay(300, context.RequestAborted); await context.Response.WriteAsync("slow"); };
        failing.Handler = context =>
        {
            // Traffic fails, heartbeats pass: passive health must eject it (heartbeats marking it unhealthy first would
            // take it out of rotation before five failures in a row, and no ejection would be counted).
            context.Response.StatusCode = context.Request.Path == "/health" ? 200 : 503;
            return Task.CompletedTask;
        };

        var web = WebApplication.CreateSlimBuilder();
        web.Logging.ClearProviders();
        web.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        web.Configuration["Services:catalog:http:0"] = good.Address;
        web.Configuration["Services:catalog:http:1"] = slow.Address;
        web.Configuration["Services:catalog:http:2"] = failing.Address;
        web.Services.AddDemoMetrics();
        // Two clients of one service: retries (hedging replaces them where it is on), and hedging with heartbeats.
        web.Services.AddHttpClient("retried", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler(o =>
        {
            o.Balancer = BalancerNames.RoundRobin;             // every backend gets traffic
            o.Retry.BudgetPercent = 1;                          // the failing backend exhausts the retry budget
            o.Retry.MinRetriesPerSecond = 1;
            o.PassiveHealth.Enabled = false;                    // ...which it can only do while it stays in rotation
        });
        web.Services.AddHttpClient("hedged", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler(o =>
        {
            o.Balancer = BalancerNames.RoundRobin;
            o.HealthCheck.Path = "/health";                     // heartbeats
            o.HealthCheck.Interval = TimeSpan.FromSeconds(1);
            o.Hedging.Enabled = true;                           // the slow backend is hedged
            o.Hedging.Delay = TimeSpan.FromMilliseconds(50);
        });
        await using var app = web.Build();
        app.MapDemoMetrics();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var clients = new[] { "retried", "hedged" }.Select(app.Services.GetRequiredService<IHttpClientFactory>().CreateClient).ToArray();
        using var scraper = new HttpClient { BaseAddress = new Uri(address) };

        var missing = wanted;
        bool resolverBroken = false;
        var served = new HashSet<string>();
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (missing.Count > 0 && started.Elapsed < TimeSpan.FromSeconds(60))
        {
            var batch = Enumerable.Range(0, 10).SelectMany(_ => clients).Select(client => SendAsync(client, deadline.Token));
            await Task.WhenAll(batch);
            if (!resolverBroken)
            {
                // A bad value reloaded: the resolver reports an error and the last good endpoints stay.
                app.Configuration["Services:catalog:http:3"] = "not an address";
                ((IConfigurationRoot)app.Configuration).Reload();
                resolverBroken = true;
            }

            var response = await scraper.GetAsync(new Uri(DemoMetrics.Path, UriKind.Relative), deadline.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            served = ServedMetricNames(await response.Content.ReadAsStringAsync(deadline.Token));
            missing = wanted.Where(name => !served.Contains(name)).ToHashSet();
        }

        Assert.True(missing.Count == 0, $"Not served: {string.Join(", ", missing)}. Served: {string.Join(", ", served.Order())}");
    }

    private static async Task SendAsync(HttpClient mesh, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await mesh.GetAsync(new Uri("/items", UriKind.Relative), cancellationToken);
        }
        catch (HttpRequestException)
        {
            // Failures are the point for some instruments.
        }
    }

    /// <summary>Every metric name in the dashboard's PromQL (<c>expr</c> and template <c>query</c> fields).</summary>
    private static HashSet<string> DashboardMetricNames()
    {
        var path = Path.Combine(RepositoryRoot(), "samples", "grafana", "mesh-client-dashboard.json");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var query in Queries(JsonDocument.Parse(File.ReadAllText(path)).RootElement))
        {
            foreach (Match match in MetricName().Matches(query))
            {
                names.Add(match.Value);
            }
        }

        return names;
    }

    private static IEnumerable<string> Queries(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name is "expr" or "query" or "definition" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        yield return property.Value.GetString()!;
                    }

                    foreach (var inner in Queries(property.Value))
                    {
                        yield return inner;
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var inner in Queries(item))
                    {
                        yield return inner;
                    }
                }

                break;
        }
    }

    /// <summary>The metric names in a Prometheus text exposition (each sample line starts with one).</summary>
    private static HashSet<string> ServedMetricNames(string exposition) =>
        exposition.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line.Split('{', ' ')[0])
            .ToHashSet(StringComparer.Ordinal);

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A metric name: followed by its label matchers or range (<c>name{...}</c>, <c>name[5m]</c>), or the first argument of <c>label_values</c>; label names such as <c>mesh_client_name</c> are neither.</summary>
    [GeneratedRegex(@"\bmesh_client_[a-z_]+(?=\s*[{\[])|(?<=label_values\()mesh_client_[a-z_]+")]
    private static partial Regex MetricName();
}
