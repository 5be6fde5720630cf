using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>The endpoints MapMeshDiagnostics maps, over HTTP against a running app.</summary>
public sealed class MapMeshDiagnosticsTests : IAsyncLifetime
{
    private DiagnosticsApp _app = null!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync()
    {
        _app = await DiagnosticsApp.StartAsync(backendCount: 2);
        _http.BaseAddress = _app.BaseAddress;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Json_lists_each_service_and_endpoint_with_state_rtt_and_requests()
    {
        DiagnosticsApp.Break(_app.Backends[0]);
        await _app.SendAsync(10); // five 503s in a row on the first endpoint eject it; each was retried on the second

        using var response = await _http.GetAsync(new Uri("/mesh/json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var service = Assert.Single(json.RootElement.GetProperty("services").EnumerateArray());
        Assert.Equal("catalog", service.GetProperty("service").GetString());
        Assert.Equal(DiagnosticsApp.ClientName, service.GetProperty("client").GetString());
        Assert.Equal("static", service.GetProperty("resolver").GetString());
        Assert.False(service.GetProperty("panic").GetBoolean());
        var endpoints = service.GetProperty("endpoints").EnumerateArray().ToArray();
        Assert.Equal(_app.Backends.Select(b => b.Authority), endpoints.Select(e => e.GetProperty("address").GetString()));
        Assert.Equal(["ejected", "available"], endpoints.Select(e => e.GetProperty("state").GetString()));
        Assert.Equal(["unhealthy", "unknown"], endpoints.Select(e => e.GetProperty("passive").GetString()));
        Assert.Equal([false, true], endpoints.Select(e => e.GetProperty("routable").GetBoolean()));
        Assert.Equal(5L, endpoints[0].GetProperty("requests").GetInt64());
        Assert.Equal(10L, endpoints[1].GetProperty("requests").GetInt64());
        Assert.Equal(1, endpoints[0].GetProperty("timesEjected").GetInt32());
        var until = endpoints[0].GetProperty("ejectedUntil").GetDateTimeOffset();
        Assert.InRange(until - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(40)); // 30 s, jittered
        Assert.Equal(JsonValueKind.Null, endpoints[1].GetProperty("ejectedUntil").ValueKind);
        Assert.All(endpoints, e =>
        {
            Assert.True(e.GetProperty("rttSampled").GetBoolean());
            Assert.True(e.GetProperty("rttMs").GetDouble() > 0);
            Assert.Equal(0, e.GetProperty("inFlight").GetInt32());
        });

        // The last five minutes by column; the attempts may straddle two buckets, so they are summed.
        Assert.Equal([(5L, 5L), (10L, 0L)], endpoints.Select(e => (Sum(e, "requests"), Sum(e, "failures"))));
        Assert.All(endpoints, e =>
        {
            var traffic = e.GetProperty("traffic");
            Assert.Equal(10, traffic.GetProperty("bucketSeconds").GetDouble());
            foreach (var column in new[] { "requests", "failures", "rps", "successRate", "p50Ms", "p99Ms" })
            {
                Assert.Equal(30, traffic.GetProperty(column).GetArrayLength());
            }
        });
        Assert.Contains(endpoints[0].GetProperty("traffic").GetProperty("successRate").EnumerateArray(), v => v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0);
        Assert.Equal(0, service.GetProperty("routes").GetArrayLength());
    }

    [Fact]
    public async Task Json_lists_routes_with_configured_and_observed_shares_and_each_backends_traffic()
    {
        await using var app = await DiagnosticsApp.StartAsync(backendCount: 1, canary: true);
        await app.SendAsync(40);
        using var http = new HttpClient { BaseAddress = app.BaseAddress };

        using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri("/mesh/json", UriKind.Relative)));

        var catalog = json.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("service").GetString() == "catalog");
        var route = Assert.Single(catalog.GetProperty("routes").EnumerateArray());
        Assert.Equal(("canary", "*", false), (route.GetProperty("name").GetString(), route.GetProperty("match").GetString(), route.GetProperty("sticky").GetBoolean()));
        var backends = route.GetProperty("backends").EnumerateArray().ToArray();
        Assert.Equal(["catalog", "catalog-v2"], backends.Select(b => b.GetProperty("service").GetString()));
        Assert.Equal([80, 20], backends.Select(b => b.GetProperty("weight").GetInt32()));
        Assert.Equal([0.8, 0.2], backends.Select(b => b.GetProperty("configuredShare").GetDouble()));
        Assert.Equal(40, backends.Sum(b => b.GetProperty("requests").GetInt64()));
        Assert.Equal([app.Backends[0].Count, app.Canary!.Count], backends.Select(b => (int)b.GetProperty("requests").GetInt64()));
        Assert.All(backends, b =>
        {
            Assert.Equal(b.GetProperty("requests").GetInt64() / 40.0, b.GetProperty("observedShare").GetDouble(), 4);
            Assert.Equal(b.GetProperty("requests").GetInt64(), Sum(b, "requests"));
        });
    }

    private static long Sum(JsonElement owner, string column) =>
        owner.GetProperty("traffic").GetProperty(column).EnumerateArray().Sum(v => v.GetInt64());

    [Fact]
    public async Task Page_is_self_contained_html_with_a_strict_content_security_policy()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mesh");
        request.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<title>Mesh.Client diagnostics</title>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"http", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_page_address_serves_json_to_a_client_that_asks_for_json()
    {
        await _app.SendAsync(1);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mesh");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        using var response = await _http.SendAsync(request);

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(1, json.RootElement.GetProperty("services").GetArrayLength());
    }

    [Fact]
    public void Mapping_without_the_mesh_fails_with_a_message_naming_AddMeshClient()
    {
        var builder = WebApplication.CreateSlimBuilder();
        using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapMeshDiagnostics());

        Assert.Contains("AddMeshClient()", error.Message, StringComparison.Ordinal);
    }
}
