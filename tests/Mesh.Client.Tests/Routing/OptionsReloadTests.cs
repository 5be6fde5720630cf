using System.Net;
using Mesh.Client.Balancing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Per-service options reload live from configuration: new requests take the new options, requests in flight finish under
/// theirs, endpoint records survive, and a bad reload is rejected with the start-up message while the last good options stay.
/// </summary>
public sealed class OptionsReloadTests
{
    private const string Prefix = "Mesh:Services:catalog:";

    private sealed class Reloadable : IDisposable
    {
        private readonly MutableConfigurationSource _source;
        private readonly Dictionary<string, string?> _data;

        public Reloadable(Dictionary<string, string?> data, Action<MeshServiceOptions>? handler = null, int endpoints = 3)
        {
            _data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            _source = new MutableConfigurationSource(_data);
            Host = RequestPathHost.Create(handler, endpoints, new ConfigurationBuilder().Add(_source).Build());
        }

        public RequestPathHost Host { get; }

        /// <summary>Sets (or, with null, removes) <c>Mesh:Services:catalog:&lt;key&gt;</c> values and reloads; returns what the reload threw.</summary>
        public Exception? Reload(params (string Key, string? Value)[] changes)
        {
            foreach (var (key, value) in changes)
            {
                if (value is null)
                {
                    _data.Remove(Prefix + key);
                }
                else
                {
                    _data[Prefix + key] = value;
                }
            }

            return Record.Exception(() => _source.Replace(_data));
        }

        public void Dispose() => Host.Dispose();
    }

    private static Dictionary<string, string?> Config(params (string Key, string Value)[] values) =>
        values.ToDictionary(v => Prefix + v.Key, v => (string?)v.Value, StringComparer.OrdinalIgnoreCase);

    [Fact]
    public async Task Changing_the_balancer_applies_to_new_requests_and_endpoint_load_and_ejections_survive()
    {
        using var mesh = new Reloadable(Config(
            ("Balancer", "RoundRobin"), ("Retry:Enabled", "false"),
            ("PassiveHealth:ConsecutiveFailures", "1"), ("PassiveHealth:MaxEjectionPercent", "50"), ("PassiveHealth:EjectionJitter", "0")));
        var host = mesh.Host;
        var (a, b, c) = ("127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003");
        host.Handler.Always(a, Reply.Status(503));
        for (int i = 0; i < 3; i++)
        {
            using var response = await RequestPathHost.Within(host.Get()); // round robin reaches a, whose 503 ejects it
        }

        var ejected = host.Endpoint(a);
        Assert.Equal(EjectionPhase.Ejected, ejected.Health.Phase);
        var records = host.State.Endpoints.Endpoints.ToArray();

        host.Handler.ClearAttempts();
        host.Handler.Default = Reply.Pending;
        var held = host.Get();
        var busy = await host.Handler.WaitForAttemptAsync(1);
        Assert.NotEqual(a, busy.Authority);
        string idle = busy.Authority == b ? c : b;

        Assert.Null(mesh.Reload(("Balancer", "LeastRequest")));

        Assert.IsType<LeastRequestBalancer>(host.State.Balancer);
        Assert.Equal(records, host.State.Endpoints.Endpoints.ToArray()); // the same records, not new ones
        Assert.Equal(EjectionPhase.Ejected, ejected.Health.Phase);
        Assert.Equal(1, host.Endpoint(busy.Authority).InFlight);
        host.Handler.Default = Reply.Ok;
        for (int i = 0; i < 4; i++)
        {
            // Least request sees the held attempt and sends each new one to the idle endpoint; round robin would alternate.
            using var response = await RequestPathHost.Within(host.Get());
            Assert.Equal(idle, host.Handler.Attempts[^1].Authority);
        }

        busy.Respond(200);
        using (var first = await RequestPathHost.Within(held))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        Assert.DoesNotContain(host.Handler.Attempts, x => x.Authority == a);
    }

    [Fact]
    public async Task Changing_Retry_MaxAttempts_applies_to_new_requests()
    {
        using var mesh = new Reloadable(Config(("Retry:MaxAttempts", "1"), ("PassiveHealth:Enabled", "false")));
        var host = mesh.Host;
        host.Handler.Default = Reply.Status(503);

        var attempts = new List<int>();
        foreach (var maxAttempts in new[] { "1", "3", "2" })
        {
            Assert.Null(mesh.Reload(("Retry:MaxAttempts", maxAttempts)));
            host.Handler.ClearAttempts();
            using var response = await RequestPathHost.Within(host.Get());
            attempts.Add(host.Handler.Attempts.Count);
        }

        Assert.Equal([1, 3, 2], attempts);
    }

    [Fact]
    public async Task Changing_PassiveHealth_applies_to_new_requests()
    {
        using var mesh = new Reloadable(Config(("Retry:Enabled", "false"),
            ("PassiveHealth:ConsecutiveFailures", "0"), ("PassiveHealth:MinimumSuccessRatePercent", "0"), ("PassiveHealth:MaxEjectionPercent", "100")),
            endpoints: 1);
        var host = mesh.Host;
        host.Handler.Default = Reply.Status(503);
        for (int i = 0; i < 3; i++)
        {
            using var response = await RequestPathHost.Within(host.Get());
        }

        var endpoint = host.Endpoint("127.0.0.1:9001");
        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase); // no rule ejects

        Assert.Null(mesh.Reload(("PassiveHealth:ConsecutiveFailures", "1")));
        using (var response = await RequestPathHost.Within(host.Get()))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal(EjectionPhase.Ejected, endpoint.Health.Phase);
    }

    [Fact]
    public async Task An_endpoint_ejected_before_a_PassiveHealth_reload_is_still_readmitted_when_its_ejection_ends()
    {
        using var mesh = new Reloadable(Config(("Retry:Enabled", "false"),
            ("PassiveHealth:ConsecutiveFailures", "1"), ("PassiveHealth:MaxEjectionPercent", "50"), ("PassiveHealth:EjectionJitter", "0"),
            ("PassiveHealth:BaseEjectionTime", "00:00:10")), endpoints: 2);
        var host = mesh.Host;
        host.Handler.Then("127.0.0.1:9001", Reply.Status(503));
        host.Handler.Then("127.0.0.1:9002", Reply.Status(503));
        using (var failed = await RequestPathHost.Within(host.Get()))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }

        var endpoint = host.Endpoint(host.Handler.Attempts[0].Authority);
        Assert.Equal(EjectionPhase.Ejected, endpoint.Health.Phase);

        Assert.Null(mesh.Reload(("PassiveHealth:BaseEjectionTime", "00:00:20")));
        host.Clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(EjectionPhase.Probing, endpoint.Health.Phase); // the ejection it had still ends, on time
        Assert.Contains(endpoint, host.State.Endpoints.Routable.ToArray());
    }

    [Fact]
    public async Task Turning_PassiveHealth_off_makes_an_endpoint_it_had_ejected_routable_again()
    {
        using var mesh = new Reloadable(Config(("Retry:Enabled", "false"),
            ("PassiveHealth:ConsecutiveFailures", "1"), ("PassiveHealth:MaxEjectionPercent", "50")), endpoints: 2);
        var host = mesh.Host;
        host.Handler.Then("127.0.0.1:9001", Reply.Status(503));
        host.Handler.Then("127.0.0.1:9002", Reply.Status(503));
        using (var failed = await RequestPathHost.Within(host.Get()))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }

        var endpoint = host.Endpoint(host.Handler.Attempts[0].Authority);
        Assert.Equal(EjectionPhase.Ejected, endpoint.Health.Phase);

        Assert.Null(mesh.Reload(("PassiveHealth:Enabled", "false")));

        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
        Assert.True(endpoint.Health.IsAvailable);
        Assert.Contains(endpoint, host.State.Endpoints.Routable.ToArray());
    }

    [Fact]
    public async Task Changing_Timeouts_Attempt_applies_to_new_requests_while_a_request_in_flight_keeps_its_own()
    {
        using var mesh = new Reloadable(Config(("Retry:Enabled", "false"), ("Timeouts:Attempt", "00:00:01")), endpoints: 1);
        var host = mesh.Host;
        host.Handler.Default = Reply.Pending;

        var before = host.Get();
        await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(TimeSpan.FromSeconds(1));
        Assert.Null(mesh.Reload(("Timeouts:Attempt", "00:00:05")));
        var after = host.Get();
        var second = await host.Handler.WaitForAttemptAsync(2);
        await host.Clock.WaitForTimerAsync(TimeSpan.FromSeconds(5));

        host.Clock.Advance(TimeSpan.FromSeconds(1));
        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => RequestPathHost.Within(before)); // under the old 1 s
        Assert.Contains("Timeouts:Attempt", error.Message, StringComparison.Ordinal);
        Assert.False(after.IsCompleted);
        Assert.False(second.Token.IsCancellationRequested);

        host.Clock.Advance(TimeSpan.FromSeconds(4));
        await Assert.ThrowsAsync<TaskCanceledException>(() => RequestPathHost.Within(after)); // under the new 5 s
    }

    [Fact]
    public async Task A_request_in_flight_during_a_reload_keeps_the_retry_and_failure_rules_it_started_with()
    {
        using var mesh = new Reloadable(Config(("Retry:MaxAttempts", "2"), ("PassiveHealth:Enabled", "false")), endpoints: 2);
        var host = mesh.Host;
        host.Handler.Default = Reply.Pending;

        var before = host.Get();
        var first = await host.Handler.WaitForAttemptAsync(1);
        // From now on only 500 is a failure (so a 503 is an answer, never retried), and no request retries.
        Assert.Null(mesh.Reload(("Retry:MaxAttempts", "1"), ("PassiveHealth:FailureStatusCodes:0", "500")));
        first.Respond(503);
        var retry = await host.Handler.WaitForAttemptAsync(2); // the old rules: 503 is retried, up to two attempts
        retry.Respond(200);
        using (var response = await RequestPathHost.Within(before))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        host.Handler.ClearAttempts();
        host.Handler.Default = Reply.Status(503);
        using (var response = await RequestPathHost.Within(host.Get()))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Single(host.Handler.Attempts);
    }

    public static TheoryData<string, string, bool> BadValues => new()
    {
        { "Timeouts:Attempt", "-00:00:01", false },
        { "Timeouts:Attempt", "-00:00:01", true },
        { "Balancer", "Nope", false },
        { "Balancer", "Nope", true },
        { "Timeouts:Attempt", "soon", false },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public async Task An_invalid_reload_is_rejected_with_the_start_up_message_and_the_last_good_options_stay(string key, string value, bool handlerDelegate)
    {
        string startUpMessage = StartUpMessage(key, value, handlerDelegate);
        Assert.Contains($"'{Prefix}{key}'", startUpMessage, StringComparison.Ordinal);

        Action<MeshServiceOptions>? handler = handlerDelegate ? o => o.Retry.SameEndpointBackoff = TimeSpan.FromMilliseconds(10) : null;
        using var mesh = new Reloadable(Config(("Balancer", "RoundRobin"), ("Retry:Enabled", "false"), ("Timeouts:Attempt", "00:00:01")), handler, endpoints: 1);
        var host = mesh.Host;
        using (var warm = await RequestPathHost.Within(host.Get()))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var good = host.State.Options;

        Assert.Null(mesh.Reload((key, value)));

        var rejected = host.Logs.GetSnapshot().Where(r => r.Level == LogLevel.Error && r.Id.Id == Mesh.Client.Diagnostics.MeshEventIds.OptionsReloadRejected).ToArray();
        var log = Assert.Single(rejected);
        Assert.Contains(startUpMessage, log.Message, StringComparison.Ordinal);
        Assert.Contains("'catalog'", log.Message, StringComparison.Ordinal);
        Assert.Same(good, host.State.Options);
        Assert.IsType<RoundRobinBalancer>(host.State.Balancer);

        // The last good attempt timeout still ends a hung request after 1 s.
        host.Handler.Default = Reply.Pending;
        var request = host.Get();
        await host.Handler.WaitForAttemptAsync(2);
        await host.Clock.WaitForTimerAsync(TimeSpan.FromSeconds(1));
        host.Clock.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<TaskCanceledException>(() => RequestPathHost.Within(request));

        // A good reload after the bad one is taken.
        Assert.Null(mesh.Reload((key, key == "Balancer" ? "LeastRequest" : "00:00:02")));
        Assert.NotSame(good, host.State.Options);
    }

    /// <summary>What start-up validation says about the same configuration value (the options validated on start).</summary>
    private static string StartUpMessage(string key, string value, bool handlerDelegate)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(Config((key, value))).Build());
        services.AddMeshClient().AddStaticEndpoints("catalog", RequestPathHost.Addresses[0]);
        services.AddHttpClient("test").AddMeshHandler(handlerDelegate ? o => o.Retry.SameEndpointBackoff = TimeSpan.FromMilliseconds(10) : null);
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<MeshClientOptions>>().Value);
        return Assert.Single(error.Failures);
    }
}
