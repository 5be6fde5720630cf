using System.Net;
using DnsClient;
using Mesh.Client.Discovery;
using Mesh.Client.Discovery.Dns;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Discovery.Dns;

/// <summary>The DNS resolver end to end: dnsmasq (or a scripted server) → resolver → service → picks → real Kestrel backends.</summary>
public sealed class DnsResolverTests : IAsyncLifetime
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(30);
    private readonly List<IAsyncDisposable> _cleanup = [];
    private readonly FakeTimeProvider _time = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }
    }

    private async Task<T> Keep<T>(Task<T> starting)
        where T : IAsyncDisposable
    {
        var value = await starting;
        _cleanup.Add(value);
        return value;
    }

    /// <summary>Backends on 127.0.0.2, 127.0.0.3, ... all on one port, as a headless service's pods share a port.</summary>
    private async Task<(List<TestBackend> Backends, int Port)> StartOnLoopbackAddressesAsync(int count)
    {
        for (int attempt = 0; ; attempt++)
        {
            var backends = new List<TestBackend>();
            try
            {
                var first = await TestBackend.StartAsync("b2", listenOn: new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                backends.Add(first);
                for (int i = 1; i < count; i++)
                {
                    backends.Add(await TestBackend.StartAsync($"b{i + 2}", listenOn: new IPEndPoint(IPAddress.Parse($"127.0.0.{i + 2}"), first.Port)));
                }

                _cleanup.AddRange(backends);
                return (backends, first.Port);
            }
            catch (IOException) when (attempt < 5)
            {
                // That port was taken on one of the addresses: start over on another.
                foreach (var backend in backends)
                {
                    await backend.DisposeAsync();
                }
            }
        }
    }

    private ServiceProvider BuildMesh(string server, Action<DnsResolverOptions> services, Action<IMeshClientBuilder>? before = null,
        string balancer = BalancerNames.RoundRobin)
    {
        var provider = MeshTestHost.Build(m =>
        {
            before?.Invoke(m);
            m.AddDns(o =>
            {
                o.Servers.Add(server);
                o.QueryRetries = 0;
                services(o);
            });
        }, timeProvider: _time, handler: o =>
        {
            // Discovery is under test: tests count exact turns, a retry would hide which endpoint a request went to,
            // and its backoff would wait on the manual clock.
            o.Balancer = balancer;
            o.Retry.Enabled = false;
        });
        return provider;
    }

    private static DnsEndpointResolver ResolverOf(IServiceProvider provider) =>
        provider.GetServices<IEndpointResolver>().OfType<DnsEndpointResolver>().Single();

    private static ServiceState StateOf(IServiceProvider provider, string service = "catalog")
    {
        Assert.True(provider.GetRequiredService<ServiceRegistry>().GetClient(MeshTestHost.ClientName).TryGet(new RouteKey("http", service), out var state));
        return state;
    }

    private static async Task<Dictionary<string, int>> SendAsync(HttpClient client, int count)
    {
        var answers = new Dictionary<string, int>();
        for (int i = 0; i < count; i++)
        {
            using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            var name = await response.Content.ReadAsStringAsync();
            answers[name] = answers.GetValueOrDefault(name) + 1;
        }

        return answers;
    }

    [Fact]
    public async Task A_record_changes_reach_picks_within_one_refresh_and_surviving_endpoints_keep_their_state()
    {
        var (_, port) = await StartOnLoopbackAddressesAsync(2);
        var dns = await Keep(DnsmasqServer.StartAsync(new Dictionary<string, string[]> { ["catalog"] = ["127.0.0.2"] }));
        using var provider = BuildMesh(dns.Server, o => o.Services["catalog"] = new DnsServiceOptions { HostName = "catalog.mesh.test", Port = port });
        var client = provider.Client();

        Assert.Equal(new Dictionary<string, int> { ["b2"] = 4 }, await SendAsync(client, 4));
        var before = StateOf(provider).Endpoints.Single();

        var recorder = new WaitingObserver();
        using var sameWatch = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder)!;
        Assert.Single(await recorder.NextEndpointsAsync()); // a new subscriber gets the last result at once
        await dns.SetAddressesAsync(new Dictionary<string, string[]> { ["catalog"] = ["127.0.0.2", "127.0.0.3"] });

        var watch = ResolverOf(provider).FindWatch("catalog")!;
        _time.Advance(Refresh - TimeSpan.FromSeconds(1));
        Assert.Equal(1, watch.Refreshes); // not before the refresh is due
        _time.Advance(TimeSpan.FromSeconds(1));
        await recorder.NextEndpointsAsync(e => e.Length == 2);

        Assert.Equal(new Dictionary<string, int> { ["b2"] = 5, ["b3"] = 5 }, await SendAsync(client, 10));
        var after = StateOf(provider).Endpoints.Find(before.Key)!;
        Assert.Same(before.Load, after.Load); // Finagle's rule: a surviving endpoint keeps its load and health
        Assert.Same(before.Health, after.Health);
        Assert.Equal(4 + 5, after.Load.Completed);

        await dns.SetAddressesAsync(new Dictionary<string, string[]> { ["catalog"] = ["127.0.0.3"] });
        _time.Advance(Refresh);
        await recorder.NextEndpointsAsync(e => e.Length == 1 && e[0].Host == "127.0.0.3");
        Assert.Equal(new Dictionary<string, int> { ["b3"] = 3 }, await SendAsync(client, 3));
    }

    [Fact]
    public async Task Resolves_aaaa_records_and_the_scheme_default_port()
    {
        var dns = await Keep(DnsmasqServer.StartAsync(new Dictionary<string, string[]> { ["dual"] = ["10.9.0.1", "fd00::9"] }));
        using var provider = BuildMesh(dns.Server, o =>
        {
            o.Services["dual"] = new DnsServiceOptions { HostName = "dual.mesh.test" };
            o.Services["v6"] = new DnsServiceOptions { HostName = "dual.mesh.test", AddressFamily = DnsAddressFamily.IPv6, Port = 8443 };
        });
        var resolver = ResolverOf(provider);
        var dual = new WaitingObserver();
        var v6 = new WaitingObserver();

        using var a = resolver.Watch(new EndpointQuery("dual", ["https"]), dual);
        using var b = resolver.Watch(new EndpointQuery("v6", ["http"]), v6);

        Assert.Equal(["https://10.9.0.1:443", "https://[fd00::9]:443"], (await dual.NextEndpointsAsync()).Select(e => e.Key));
        Assert.Equal(["http://[fd00::9]:8443"], (await v6.NextEndpointsAsync()).Select(e => e.Key));
    }

    [Fact]
    public async Task Srv_priority_uses_the_lowest_group_falls_back_when_none_of_it_is_available_and_follows_changes()
    {
        var b1 = await Keep(TestBackend.StartAsync("b1"));
        var b2 = await Keep(TestBackend.StartAsync("b2"));
        var hosts = new Dictionary<string, string[]> { ["t1"] = ["127.0.0.1"], ["t2"] = ["127.0.0.1"] };
        var dns = await Keep(DnsmasqServer.StartAsync(hosts,
        [
            new SrvEntry("_http._tcp.catalog", "t1", b1.Port, Priority: 0, Weight: 5),
            new SrvEntry("_http._tcp.catalog", "t2", b2.Port, Priority: 1, Weight: 1),
        ]));
        using var provider = BuildMesh(dns.Server, o => o.Services["catalog"] = new DnsServiceOptions { SrvName = "_http._tcp.catalog.mesh.test" });
        var client = provider.Client();

        Assert.Equal(new Dictionary<string, int> { ["b1"] = 6 }, await SendAsync(client, 6));
        var state = StateOf(provider);
        var primary = state.Endpoints.Find($"http://127.0.0.1:{b1.Port}")!;
        var backup = state.Endpoints.Find($"http://127.0.0.1:{b2.Port}")!;
        Assert.Equal((5, 0, 1, 1), (primary.Weight, primary.Priority, backup.Weight, backup.Priority));

        // No endpoint of priority 0 available: priority 1 takes the traffic; when one is back, priority 0 takes it again.
        primary.Health.SetPassive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        Assert.False(state.Endpoints.IsPanic);
        Assert.Equal(new Dictionary<string, int> { ["b2"] = 4 }, await SendAsync(client, 4));
        primary.Health.SetPassive(HealthOpinion.Healthy);
        state.OnHealthChanged();
        Assert.Equal(new Dictionary<string, int> { ["b1"] = 4 }, await SendAsync(client, 4));

        // Nothing available anywhere: panic routes to the preferred level, not to the fallback.
        primary.Health.SetPassive(HealthOpinion.Unhealthy);
        backup.Health.SetPassive(HealthOpinion.Unhealthy);
        state.OnHealthChanged();
        Assert.True(state.Endpoints.IsPanic);
        Assert.Equal(new Dictionary<string, int> { ["b1"] = 2 }, await SendAsync(client, 2));
        primary.Health.SetPassive(HealthOpinion.Healthy);
        backup.Health.SetPassive(HealthOpinion.Healthy);
        state.OnHealthChanged();

        // The operator swaps priorities and weights: after one refresh, traffic follows, and state is kept.
        var recorder = new WaitingObserver();
        using var sameWatch = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder)!;
        await recorder.NextEndpointsAsync();
        await dns.RestartAsync(
        [
            new SrvEntry("_http._tcp.catalog", "t1", b1.Port, Priority: 1, Weight: 2),
            new SrvEntry("_http._tcp.catalog", "t2", b2.Port, Priority: 0, Weight: 9),
        ]);
        _time.Advance(Refresh);
        await recorder.NextEndpointsAsync(e => e.Any(x => x.Port == b2.Port && x.Priority == 0));

        Assert.Equal(new Dictionary<string, int> { ["b2"] = 5 }, await SendAsync(client, 5));
        var swapped = state.Endpoints.Find(backup.Key)!;
        Assert.Equal((9, 0), (swapped.Weight, swapped.Priority));
        Assert.Equal((2, 1), (state.Endpoints.Find(primary.Key)!.Weight, state.Endpoints.Find(primary.Key)!.Priority));
        Assert.Same(backup.Load, swapped.Load);
    }

    [Fact]
    public async Task Srv_weights_split_traffic_exactly_with_weighted_round_robin_and_a_weight_change_moves_it()
    {
        var b1 = await Keep(TestBackend.StartAsync("b1"));
        var b2 = await Keep(TestBackend.StartAsync("b2"));
        var hosts = new Dictionary<string, string[]> { ["t1"] = ["127.0.0.1"], ["t2"] = ["127.0.0.1"] };
        var dns = await Keep(DnsmasqServer.StartAsync(hosts,
        [
            new SrvEntry("_http._tcp.catalog", "t1", b1.Port, Priority: 0, Weight: 3),
            new SrvEntry("_http._tcp.catalog", "t2", b2.Port, Priority: 0, Weight: 1),
        ]));
        using var provider = BuildMesh(dns.Server, o => o.Services["catalog"] = new DnsServiceOptions { SrvName = "_http._tcp.catalog.mesh.test" },
            balancer: BalancerNames.WeightedRoundRobin);
        var client = provider.Client();

        // A cycle is 3 + 1 turns: any 4 requests in a row split 3:1, so 40 split 30:10, counted at the backends.
        Assert.Equal(new Dictionary<string, int> { ["b1"] = 30, ["b2"] = 10 }, await SendAsync(client, 40));
        Assert.Equal((30, 10), (b1.Count, b2.Count));

        // The operator changes the weights to 1:4: after one refresh the split follows, on the same endpoints.
        var state = StateOf(provider);
        var before = state.Endpoints.Find($"http://127.0.0.1:{b2.Port}")!;
        var recorder = new WaitingObserver();
        using var sameWatch = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder)!;
        await recorder.NextEndpointsAsync();
        await dns.RestartAsync(
        [
            new SrvEntry("_http._tcp.catalog", "t1", b1.Port, Priority: 0, Weight: 1),
            new SrvEntry("_http._tcp.catalog", "t2", b2.Port, Priority: 0, Weight: 4),
        ]);
        _time.Advance(Refresh);
        await recorder.NextEndpointsAsync(e => e.Any(x => x.Port == b2.Port && x.Weight == 4));

        Assert.Equal(new Dictionary<string, int> { ["b1"] = 8, ["b2"] = 32 }, await SendAsync(client, 40));
        Assert.Same(before.Load, state.Endpoints.Find(before.Key)!.Load);
    }

    [Fact]
    public async Task Srv_targets_without_additional_records_are_looked_up_and_weight_zero_counts_as_one()
    {
        await using var server = new ScriptedDnsServer(q =>
        {
            // SRV: two records, no additional section; A lookups of the targets are answered separately.
            return DnsReply.TypeOf(q) switch
            {
                QueryType.SRV => [DnsReply.Build(q, [DnsReply.Srv(0, 0, 8080, DnsReply.Name("one.mesh.test")), DnsReply.Srv(0, 3, 8081, DnsReply.Name("two.mesh.test"))])],
                QueryType.A when DnsReply.NameOf(q) == "one.mesh.test" => [DnsReply.Build(q, [DnsReply.A("10.7.0.1")])],
                QueryType.A => [DnsReply.Build(q, [DnsReply.A("10.7.0.2")])],
                _ => [DnsReply.Build(q, [])], // AAAA: no data
            };
        });
        using var provider = BuildMesh(server.Server, o => o.Services["catalog"] = new DnsServiceOptions { SrvName = "_http._tcp.catalog.mesh.test" });
        var recorder = new WaitingObserver();

        using var watch = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder);

        var endpoints = await recorder.NextEndpointsAsync();
        Assert.Equal(["http://10.7.0.1:8080 w1", "http://10.7.0.2:8081 w3"], endpoints.Select(e => $"{e.Key} w{e.Weight}"));
    }

    [Fact]
    public async Task Garbage_truncated_mismatched_and_silent_replies_are_errors_that_keep_the_last_good_endpoints()
    {
        var backend = await Keep(TestBackend.StartAsync("good"));
        byte[][] Good(byte[] q) => [DnsReply.Build(q, [DnsReply.A("127.0.0.1")])];
        await using var server = new ScriptedDnsServer(Good);
        using var provider = BuildMesh(server.Server, o =>
        {
            // DnsClient waits on the real clock: long enough that a loaded machine's answers are not timeouts, short
            // enough for the silent case.
            o.QueryTimeout = TimeSpan.FromSeconds(2);
            o.Services["catalog"] = new DnsServiceOptions { HostName = "catalog.mesh.test", Port = backend.Port, AddressFamily = DnsAddressFamily.IPv4 };
        });
        var client = provider.Client();
        Assert.Equal(new Dictionary<string, int> { ["good"] = 2 }, await SendAsync(client, 2));
        var recorder = new WaitingObserver();
        using var sameWatch = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder)!;
        await recorder.NextEndpointsAsync();
        var watch = ResolverOf(provider).FindWatch("catalog")!;

        // Each hostile UDP reply, and what TCP answers if DnsClient falls back to it (it does for a truncated reply, and
        // for a short one it cannot parse): the same hostile bytes, or garbage.
        static byte[] Loop(byte[] q) => DnsReply.Build(q, [DnsReply.Record([0xC0, (byte)DnsReply.AnswersAt(q)], QueryType.A, 30, [6, 6, 6, 6])]);
        var hostile = new (string Kind, Func<byte[], byte[]> Udp, Func<byte[], byte[]>? Tcp, string Expected)[]
        {
            ("garbage", q => [.. q[..2], 0x81, 0x80, 0xDE, 0xAD, 0xBE, 0xEF], q => [.. q[..2], 0x81, 0x80, 0xDE, 0xAD, 0xBE, 0xEF], "Malformed DNS reply"),
            ("truncated, then garbage over TCP", q => DnsReply.Build(q, [], flags: 0x8380), q => [0x00, 0x01, 0x02], "Malformed DNS reply"),
            ("truncated, then nothing over TCP", q => DnsReply.Build(q, [], flags: 0x8380), null, "DNS query for 'catalog.mesh.test' A failed"),
            ("wrong question", q => DnsReply.Build(q, [DnsReply.A("6.6.6.6")], question: [.. DnsReply.Name("evil.example"), 0, 1, 0, 1]), null, "answers another question ('evil.example."),
            ("compression loop", Loop, Loop, "Malformed DNS reply"),
            ("oversize counts", q => DnsReply.Build(q, [DnsReply.A("6.6.6.6")], answerCount: 4000), q => DnsReply.Build(q, [DnsReply.A("6.6.6.6")], answerCount: 4000), "Malformed DNS reply"),
            ("a wrong id", q => DnsReply.Build(q, [DnsReply.A("6.6.6.6")], id: (ushort)(DnsReply.IdOf(q) + 1)), null, "a reply with a wrong id"),
            ("silence", q => [], null, "timed out"),
        };
        foreach (var (kind, udp, tcp, expected) in hostile)
        {
            server.Udp = q => udp(q) is { Length: > 0 } reply ? [reply] : [];
            server.Tcp = tcp;
            _time.Advance(watch.NextRefreshIn!.Value);
            var error = await recorder.NextErrorAsync();
            Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), $"{kind}: {error.Message}");
            Assert.Contains("DNS lookup of A 'catalog.mesh.test'", error.Message, StringComparison.Ordinal);
            Assert.IsType<DnsResponseException>(error.InnerException); // the documented type, whatever the reply was

            // The request path never sees it: the last good endpoint still serves.
            Assert.Equal(new Dictionary<string, int> { ["good"] = 1 }, await SendAsync(client, 1));
            Assert.Same(error, StateOf(provider).LastError);
        }

        server.Udp = Good;
        _time.Advance(watch.NextRefreshIn!.Value);
        await recorder.NextEndpointsAsync();
        Assert.Null(StateOf(provider).LastError);
    }

    [Fact]
    public async Task An_srv_record_with_an_odd_target_is_skipped_and_logged_once_and_the_other_records_keep_updating()
    {
        // 63 bytes of 0x01: a name DnsClient reads (escaped as \001...) but no host has; it must not block the answer.
        byte[] odd = [63, .. Enumerable.Repeat((byte)1, 63), 0];
        int goodPort = 8080;
        await using var server = new ScriptedDnsServer(q => DnsReply.TypeOf(q) switch
        {
            QueryType.SRV => [DnsReply.Build(q, [DnsReply.Srv(0, 1, 9000, odd), DnsReply.Srv(0, 2, (ushort)Volatile.Read(ref goodPort), DnsReply.Name("good.mesh.test"))])],
            QueryType.A when DnsReply.NameOf(q) == "good.mesh.test" => [DnsReply.Build(q, [DnsReply.A("10.7.0.1")])],
            _ => [DnsReply.Build(q, [], flags: 0x8183)], // anything else: NXDOMAIN
        });
        using var provider = BuildMesh(server.Server, o => o.Services["catalog"] = new DnsServiceOptions
        {
            SrvName = "_http._tcp.catalog.mesh.test", AddressFamily = DnsAddressFamily.IPv4,
        }, before: m => m.Services.AddLogging(b => b.AddFakeLogging()));
        var logs = provider.GetFakeLogCollector();
        var recorder = new WaitingObserver();
        using var subscription = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder);
        var watch = ResolverOf(provider).FindWatch("catalog")!;

        Assert.Equal(["http://10.7.0.1:8080 w2"], (await recorder.NextEndpointsAsync()).Select(e => $"{e.Key} w{e.Weight}"));
        Volatile.Write(ref goodPort, 8081);
        Assert.Equal(Refresh, watch.NextRefreshIn); // read under the watch's lock: the refresh timer is set
        _time.Advance(Refresh);
        Assert.Equal(["http://10.7.0.1:8081 w2"], (await recorder.NextEndpointsAsync()).Select(e => $"{e.Key} w{e.Weight}"));

        Assert.Equal(0, watch.Failures);
        var skipped = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == Mesh.Client.Diagnostics.MeshEventIds.DnsRecordSkipped);
        Assert.Equal(LogLevel.Warning, skipped.Level);
        Assert.Contains("_http._tcp.catalog.mesh.test", skipped.Message, StringComparison.Ordinal);
        Assert.Contains("0 1 9000 \\001\\001", skipped.Message, StringComparison.Ordinal);
        Assert.Contains("not a host name", skipped.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failures_retry_after_1s_doubling_to_30s_with_jitter_and_a_success_returns_to_the_refresh_interval()
    {
        bool fail = true;
        await using var server = new ScriptedDnsServer(q => [Volatile.Read(ref fail) ? DnsReply.Build(q, [], flags: 0x8182) : DnsReply.Build(q, [DnsReply.A("10.8.0.1")])]);
        using var provider = BuildMesh(server.Server, o => o.Services["catalog"] = new DnsServiceOptions
        {
            HostName = "catalog.mesh.test", AddressFamily = DnsAddressFamily.IPv4,
        });
        var recorder = new WaitingObserver();
        using var subscription = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder);
        var watch = ResolverOf(provider).FindWatch("catalog")!;

        var delays = new List<TimeSpan>();
        for (int failure = 1; failure <= 8; failure++)
        {
            var error = await recorder.NextErrorAsync();
            Assert.Contains("ServerFailure", error.Message, StringComparison.Ordinal);
            var delay = watch.NextRefreshIn!.Value;
            double expected = Math.Min(30, Math.Pow(2, failure - 1));
            Assert.InRange(delay.TotalSeconds, Math.Min(30, expected * 0.8) - 0.001, Math.Min(30, expected * 1.2) + 0.001);
            delays.Add(delay);
            if (failure == 8)
            {
                // Before the clock starts the ninth lookup: set after it, the server could answer that lookup first.
                Volatile.Write(ref fail, false);
            }

            _time.Advance(delay);
        }

        await recorder.NextEndpointsAsync();
        Assert.Equal(9, watch.Refreshes);
        Assert.Equal(Refresh, watch.NextRefreshIn);
        Assert.Equal(0, watch.Failures);
    }

    [Fact]
    public async Task A_connect_failure_refreshes_early_to_find_replacements_and_is_rate_limited()
    {
        var (backends, port) = await StartOnLoopbackAddressesAsync(2);
        await backends[0].DisposeAsync(); // 127.0.0.2 refuses connections from now on
        var dns = await Keep(DnsmasqServer.StartAsync(new Dictionary<string, string[]> { ["catalog"] = ["127.0.0.2"] }));
        using var provider = BuildMesh(dns.Server, o => o.Services["catalog"] = new DnsServiceOptions { HostName = "catalog.mesh.test", Port = port });
        var client = provider.Client();
        // The client's first request starts the watch, so its service hears of every change before the recorder below
        // (a watch tells its subscribers in order): once the recorder has seen an update, the client has it too.
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        var recorder = new WaitingObserver();
        using var sameWatch = ResolverOf(provider).Watch(new EndpointQuery("catalog", ["http"]), recorder)!;
        await recorder.NextEndpointsAsync();
        var watch = ResolverOf(provider).FindWatch("catalog")!;
        Assert.Equal(1, watch.Refreshes); // within MinRefreshInterval (2 s) of the first lookup, that failure asked in vain
        await dns.SetAddressesAsync(new Dictionary<string, string[]> { ["catalog"] = ["127.0.0.3"] });

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        Assert.Equal(1, watch.Refreshes);

        _time.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        await recorder.NextEndpointsAsync(e => e.Length == 1 && e[0].Host == "127.0.0.3");
        Assert.Equal(2, watch.Refreshes);
        Assert.Equal(new Dictionary<string, int> { ["b3"] = 2 }, await SendAsync(client, 2));
    }

    [Fact]
    public async Task Claims_only_configured_names_so_a_misspelled_service_is_unknown_without_any_lookup()
    {
        await using var server = new ScriptedDnsServer(q => [DnsReply.Build(q, [DnsReply.A("127.0.0.1")])]);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Dns:Servers:0"] = server.Server,
            ["Mesh:Services:orders:Resolver"] = "dns",
            ["Mesh:Services:orders:Dns:HostName"] = "orders.mesh.test",
            ["Mesh:Services:orders:Dns:Port"] = "8080",
            ["Mesh:Services:billing:Resolver"] = "dns",
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddDns(o => o.Services["catalog"] = new DnsServiceOptions()), configuration, timeProvider: _time,
            baseAddress: "http://catlog");
        var resolver = ResolverOf(provider);

        var error = await Assert.ThrowsAsync<UnknownServiceException>(() => provider.Client().GetAsync(new Uri("/items", UriKind.Relative)));

        Assert.Contains("dns", error.ResolversAsked);
        Assert.Equal(0, server.UdpQueries);
        Assert.Null(resolver.Watch(new EndpointQuery("catlog", ["http"]), new WaitingObserver()));
        Assert.Null(resolver.Watch(new EndpointQuery("catalog", ["http"], endpointName: "dashboard"), new WaitingObserver()));

        var options = provider.GetRequiredService<IOptions<DnsResolverOptions>>().Value;
        Assert.Equal(["billing", "catalog", "orders"], options.Services.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("orders.mesh.test", 8080), (options.Services["orders"].HostName, options.Services["orders"].Port));
        var recorder = new WaitingObserver();
        using var orders = resolver.Watch(new EndpointQuery("orders", ["http"]), recorder);
        Assert.Contains(await recorder.NextEndpointsAsync(), e => e.Key == "http://127.0.0.1:8080");
    }

    [Fact]
    public void Invalid_settings_fail_at_start_naming_the_key_and_value()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Dns:Servers:0"] = "dns.example",
            ["Mesh:Dns:RefreshInterval"] = "00:00:00",
            ["Mesh:Services:catalog:Dns:Port"] = "70000",
            ["Mesh:Services:catalog:Dns:SrvName"] = "_http._tcp.bad name",
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddDns(), configuration);

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<DnsResolverOptions>>().Value);

        Assert.Contains("'Mesh:Dns:Servers:0' is 'dns.example'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Dns:RefreshInterval' is '00:00:00'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:Dns:Port' is '70000'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:Dns:SrvName' is '_http._tcp.bad name'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clients_share_one_lookup_per_service_and_the_last_to_leave_stops_it()
    {
        await using var server = new ScriptedDnsServer(q => [DnsReply.Build(q, [DnsReply.A("10.6.0.1")])]);
        using var provider = BuildMesh(server.Server, o => o.Services["catalog"] = new DnsServiceOptions { AddressFamily = DnsAddressFamily.IPv4 });
        var resolver = ResolverOf(provider);
        var first = new WaitingObserver();
        var second = new WaitingObserver();

        var a = resolver.Watch(new EndpointQuery("catalog", ["http"]), first)!;
        await first.NextEndpointsAsync();
        var b = resolver.Watch(new EndpointQuery("catalog", ["http"]), second)!;
        await second.NextEndpointsAsync();
        Assert.Equal((1, 1), (resolver.ActiveWatches, server.UdpQueries));

        a.Dispose();
        Assert.Equal(1, resolver.ActiveWatches);
        b.Dispose();
        Assert.Equal(0, resolver.ActiveWatches);
        _time.Advance(Refresh * 3);
        Assert.Equal(1, server.UdpQueries); // stopped: no more lookups
    }

    [Fact]
    public async Task A_silent_server_and_an_idle_timeout_shorter_than_the_resolution_timeout_fail_the_first_request_with_ResolutionTimeoutException()
    {
        await using var server = new ScriptedDnsServer(q => []); // never answers
        using var provider = MeshTestHost.Build(m =>
        {
            m.Services.Configure<MeshClientOptions>(o => o.ServiceIdleTimeout = TimeSpan.FromSeconds(1));
            m.AddDns(o =>
            {
                o.Servers.Add(server.Server);
                o.QueryRetries = 0;
                o.QueryTimeout = TimeSpan.FromMilliseconds(200); // on DnsClient's real clock
                o.Services["catalog"] = new DnsServiceOptions { Port = 8080, AddressFamily = DnsAddressFamily.IPv4 };
            });
        }, timeProvider: _time, handler: o =>
        {
            o.ResolutionTimeout = TimeSpan.FromSeconds(5);
            o.Retry.Enabled = false;
        });
        var resolver = ResolverOf(provider);
        var services = provider.GetRequiredService<ServiceRegistry>().GetClient(MeshTestHost.ClientName);
        // The service first (as the request would create it), then a recorder on the same watch: the watch notifies in
        // subscription order, so when the recorder has the lookup's error, the service has it too.
        Assert.NotNull(services.GetOrCreate(new RouteKey("http", "catalog"), out _));
        var recorder = new WaitingObserver();
        var subscription = resolver.Watch(new EndpointQuery("catalog", ["http"]), recorder)!;
        Assert.Equal(1, resolver.ActiveWatches);

        var request = provider.Client().GetAsync(new Uri("/items", UriKind.Relative));
        var lookupError = await recorder.NextErrorAsync(); // the silent server's timeout
        Assert.Contains("timed out", lookupError.Message, StringComparison.Ordinal);

        // Past the idle timeout (a sweep runs): the service a request waits on is not idle, and the wait goes on.
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Single(services.All);
        Assert.False(request.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(3.5)); // the resolution timeout
        var error = await Assert.ThrowsAsync<ResolutionTimeoutException>(() => request);
        Assert.IsAssignableFrom<HttpRequestException>(error);
        Assert.Equal("catalog", error.ServiceName);
        Assert.True(error.Message.StartsWith("Service 'catalog' was not resolved by resolver 'dns' within 5 s; last error: DNS lookup of A 'catalog' port 8080", StringComparison.Ordinal), error.Message);
        Assert.Contains("timed out", error.Message, StringComparison.Ordinal);

        // Once no request can be waiting any more, the unused service is forgotten as usual.
        subscription.Dispose();
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(services.All);
        Assert.Equal(0, resolver.ActiveWatches);
    }

    [Fact]
    public async Task An_idle_service_is_forgotten_its_watch_stops_and_the_next_request_recreates_it()
    {
        var backend = await Keep(TestBackend.StartAsync("b"));
        await using var server = new ScriptedDnsServer(q => [DnsReply.Build(q, [DnsReply.A("127.0.0.1")])]);
        using var provider = MeshTestHost.Build(m =>
        {
            m.Services.Configure<MeshClientOptions>(o => o.ServiceIdleTimeout = TimeSpan.FromMinutes(2));
            m.AddDns(o =>
            {
                o.Servers.Add(server.Server);
                o.Services["catalog"] = new DnsServiceOptions { Port = backend.Port, AddressFamily = DnsAddressFamily.IPv4 };
            });
        }, timeProvider: _time);
        var client = provider.Client();
        var resolver = ResolverOf(provider);
        await SendAsync(client, 1);
        var registry = provider.GetRequiredService<ServiceRegistry>();

        _time.Advance(TimeSpan.FromSeconds(90));
        await SendAsync(client, 1); // used again: the clock restarts
        _time.Advance(TimeSpan.FromSeconds(90));
        Assert.Equal(1, resolver.ActiveWatches);
        Assert.Single(registry.GetClient(MeshTestHost.ClientName).All);

        _time.Advance(TimeSpan.FromSeconds(90)); // 180 s unused ≥ 120 s: gone at the sweep
        Assert.Equal(0, resolver.ActiveWatches);
        Assert.Empty(registry.GetClient(MeshTestHost.ClientName).All);

        Assert.Equal(new Dictionary<string, int> { ["b"] = 1 }, await SendAsync(client, 1));
        Assert.Equal(1, resolver.ActiveWatches);
    }
}
