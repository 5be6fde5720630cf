using Mesh.Client.Diagnostics;
using Mesh.Client.Health;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>State changes are logged once each, with their event ids; requests are not logged above Debug.</summary>
public sealed class LogsTests : BackendFleetTests
{
    public LogsTests()
        : base(count: 2)
    {
    }

    private async Task<TelemetryTestHost> StartAsync()
    {
        var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends.Select(b => b.Address).ToArray()));
        using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return host;
    }

    [Fact]
    public async Task First_resolution_logs_endpoints_updated_naming_the_resolver()
    {
        using var host = await StartAsync();

        var entry = Assert.Single(host.MeshLogs(MeshEventIds.EndpointsUpdated));
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Contains("'catalog' now has 2 endpoints (resolver 'static')", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_ejection_its_end_and_the_readmission_are_logged_once_each_with_their_ids()
    {
        var time = new FakeTimeProvider();
        var failing = Backends[0];
        failing.Handler = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        };
        using var host = TelemetryTestHost.Start(m => m.AddStaticEndpoints("catalog", Backends.Select(b => b.Address).ToArray()),
            handler: o => o.PassiveHealth.EjectionJitter = 0, timeProvider: time);

        for (int i = 0; i < 12; i++) // each 503 is retried on the other endpoint; five in a row eject
        {
            using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }

        var ejected = Assert.Single(host.MeshLogs(MeshEventIds.EndpointEjected));
        Assert.Equal(LogLevel.Warning, ejected.Level);
        Assert.Contains(failing.Authority, ejected.Message, StringComparison.Ordinal);

        failing.Handler = null; // healthy again
        time.Advance(TimeSpan.FromSeconds(31)); // the first ejection lasts 30 s
        Assert.Single(host.MeshLogs(MeshEventIds.EjectionEnded));
        for (int i = 0; i < 4; i++)
        {
            using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }

        var readmitted = Assert.Single(host.MeshLogs(MeshEventIds.EndpointReadmitted));
        Assert.Contains(failing.Authority, readmitted.Message, StringComparison.Ordinal);
        Assert.Single(host.MeshLogs(MeshEventIds.EndpointEjected));
    }

    [Fact]
    public async Task Panic_entered_and_left_are_logged_with_the_available_count()
    {
        using var host = await StartAsync();
        var state = host.Service();

        foreach (var endpoint in state.Endpoints)
        {
            endpoint.Health.SetPassive(HealthOpinion.Unhealthy);
        }

        state.OnHealthChanged();
        state.Endpoints[0].Health.SetPassive(HealthOpinion.Healthy);
        state.OnHealthChanged();

        Assert.Contains("0 of 2 endpoints available", Assert.Single(host.MeshLogs(MeshEventIds.PanicEntered)).Message, StringComparison.Ordinal);
        Assert.Contains("1 of 2 endpoints available", Assert.Single(host.MeshLogs(MeshEventIds.PanicLeft)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resolver_failure_is_logged_once_per_distinct_error_and_recovery_once()
    {
        using var host = await StartAsync();
        var state = host.Service();

        state.OnError(new InvalidOperationException("source unreachable"));
        state.OnError(new InvalidOperationException("source unreachable"));
        state.OnEndpoints(state.Endpoints.ToArray());
        state.OnEndpoints(state.Endpoints.ToArray());

        var failed = Assert.Single(host.MeshLogs(MeshEventIds.ResolverFailed));
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Contains("source unreachable", failed.Message, StringComparison.Ordinal);
        Assert.Single(host.MeshLogs(MeshEventIds.ResolverRecovered));
    }

    [Fact]
    public async Task Requests_log_nothing_above_debug()
    {
        using var host = await StartAsync();
        int before = host.MeshLogs().Count(e => e.Level > LogLevel.Debug);

        for (int i = 0; i < 10; i++)
        {
            using var response = await host.Client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
        }

        Assert.Equal(before, host.MeshLogs().Count(e => e.Level > LogLevel.Debug));
    }

    [Fact]
    public void Every_log_message_of_the_library_has_its_own_event_id_from_MeshEventIds()
    {
        var declared = typeof(MeshEventIds).GetFields().Select(f => (int)f.GetRawConstantValue()!).ToHashSet();
        var used = typeof(MeshEventIds).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic))
            .Select(m => (Method: m, Attribute: m.GetCustomAttributes(typeof(LoggerMessageAttribute), false).Cast<LoggerMessageAttribute>().SingleOrDefault()))
            .Where(x => x.Attribute is not null)
            .Select(x => (Name: $"{x.Method.DeclaringType!.Name}.{x.Method.Name}", x.Attribute!.EventId))
            .ToArray();

        Assert.NotEmpty(used);
        Assert.All(used, u => Assert.True(declared.Contains(u.EventId), $"{u.Name} logs with id {u.EventId}, which MeshEventIds does not declare."));
        var duplicates = used.GroupBy(u => u.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(u => u.Name))}");
        Assert.Empty(duplicates);
    }
}
