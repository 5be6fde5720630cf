using System.Globalization;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Kubernetes.Tests.Discovery;

/// <summary>
/// How the watch resumes, backs off, notices a dead connection, pages its lists, and works with less RBAC: each test
/// against the stand-in API server, with time driven by <see cref="FakeTimeProvider"/> where the test is about time.
/// </summary>
public sealed class WatchRecoveryTests : IAsyncLifetime
{
    private static readonly string[] Http = ["http"];
    private KubernetesTestCluster _cluster = null!;

    private FakeKubernetesApiServer Api => _cluster.Api;

    public async Task InitializeAsync()
    {
        _cluster = await KubernetesTestCluster.StartAsync();
        Api.AddService("default", "catalog", [("http", 80)]);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static FakeEndpoint[] Ready(params string[] ips) => ips.Select(ip => new FakeEndpoint(ip)).ToArray();

    private Task WaitUntilAsync(Func<bool> condition, string what) => Api.Changed.WaitUntilAsync(condition, what);

    [Fact]
    public async Task A_cut_watch_resumes_from_the_last_applied_version_without_replay_or_relist()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver();
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitUntilAsync(() => Api.OpenWatches == 1, "the watch");

        long applied = Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");

        // The connection drops in the middle of the next event: that event was not applied, the one before was.
        Api.CutWatchesAtNextEvent();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.3"));
        await observer.WaitForAuthoritiesAsync("10.0.0.3:8080");

        var versions = Api.WatchResourceVersions.ToArray();
        Assert.Equal(2, versions.Length);
        Assert.Equal(applied.ToString(CultureInfo.InvariantCulture), versions[1]);
        Assert.Equal(1, Api.Lists);
        Assert.Empty(observer.Errors);
    }

    [Fact]
    public async Task The_reconnect_delay_resets_after_each_watch_that_delivered_events()
    {
        var fake = new FakeTimeProvider();
        var clock = new ObservedClock(fake);
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver(o =>
        {
            o.ReconnectDelay = TimeSpan.FromSeconds(1);
            o.MaxReconnectDelay = TimeSpan.FromSeconds(8);
        }, timeProvider: clock);
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");

        // Four watches in a row deliver an event and are then cut: each reconnect waits the first delay again (0.5 to 1 s),
        // where growing delays would reach 2, 4 and 8 s.
        for (int round = 0; round < 4; round++)
        {
            await WaitUntilAsync(() => Api.OpenWatches == 1 && Api.Watches == round + 1, $"watch #{round + 1}");
            string delivered = $"10.0.1.{round}";
            Api.SetSlice("default", "catalog", "catalog-abc", Ready(delivered));
            await observer.WaitForAuthoritiesAsync($"{delivered}:8080");

            Api.CutWatchesAtNextEvent();
            string afterCut = $"10.0.2.{round}";
            Api.SetSlice("default", "catalog", "catalog-abc", Ready(afterCut));
            await clock.TimerCreated.WaitUntilAsync(() => clock.Delays.Count == round + 1, $"reconnect delay #{round + 1}");
            var delay = clock.Delays.ToArray()[round];
            Assert.InRange(delay.TotalSeconds, 0.5, 1.0);
            fake.Advance(delay);
            await observer.WaitForAuthoritiesAsync($"{afterCut}:8080");
        }

        Assert.Equal(1, Api.Lists);
        Assert.Empty(observer.Errors);
    }

    [Fact]
    public async Task A_watch_that_sends_nothing_not_even_a_bookmark_is_abandoned_after_the_idle_timeout()
    {
        var fake = new FakeTimeProvider();
        var clock = new ObservedClock(fake);
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver(o => o.WatchIdleTimeout = TimeSpan.FromSeconds(60), timeProvider: clock);
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitUntilAsync(() => Api.OpenWatches == 1, "the watch");

        // A bookmark is something: it restarts the idle timer (and moves the version the next watch starts from).
        fake.Advance(TimeSpan.FromSeconds(45));
        long bookmark = Api.Bookmark();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.2"));
        await observer.WaitForAuthoritiesAsync("10.0.0.2:8080");
        fake.Advance(TimeSpan.FromSeconds(45));
        Assert.Equal(1, Api.Watches);

        // Then the connection goes silent: 60 s later the watch is abandoned and a new one opens, from where it stopped.
        int delaysBefore = clock.Delays.Count;
        fake.Advance(TimeSpan.FromSeconds(60));
        await clock.TimerCreated.WaitUntilAsync(() => clock.Delays.Count > delaysBefore, "the reconnect delay after the idle timeout");
        fake.Advance(clock.Delays.ToArray()[^1]);
        await WaitUntilAsync(() => Api.Watches == 2, "a second watch");

        var versions = Api.WatchResourceVersions.ToArray();
        Assert.True(long.Parse(versions[1], CultureInfo.InvariantCulture) > bookmark, $"the second watch started from {versions[1]}");
        Assert.Equal(1, Api.Lists);
        Assert.Empty(observer.Errors);
    }

    [Fact]
    public async Task A_401_then_recovery_publishes_so_the_services_last_error_is_cleared()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver();
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitUntilAsync(() => Api.OpenWatches == 1, "the watch");

        Api.ValidTokens.Clear();
        Api.CloseWatches();
        await observer.WaitForErrorAsync(e => e.Message.Contains("401", StringComparison.Ordinal), "a 401");
        int snapshotsAtError = observer.Snapshots.Count;

        // The token is accepted again, and nothing changed in the cluster: the recovered watch still publishes a snapshot,
        // which is what clears the mesh's LastError (ServiceState.OnEndpoints).
        Api.ValidTokens["sa-token-one"] = true;
        await observer.WaitForAsync(_ => observer.Snapshots.Count > snapshotsAtError, "a snapshot after the recovery");
        Assert.Equal(["10.0.0.1:8080"], observer.Latest!.Select(e => e.Authority));
    }

    [Fact]
    public async Task The_mesh_clears_its_last_error_when_the_watch_recovers()
    {
        await using var backend = await Mesh.Client.Tests.Infrastructure.TestBackend.StartAsync("pod-0");
        Api.SetSlice("default", "catalog", "catalog-abc", [new FakeEndpoint("127.0.0.1")], [("http", backend.Port)]);
        using var provider = Mesh.Client.Tests.Infrastructure.MeshTestHost.Build(m => m.AddKubernetes(_cluster.Configure));
        var diagnostics = provider.GetRequiredService<Mesh.Client.Diagnostics.IMeshDiagnostics>();
        var client = Mesh.Client.Tests.Infrastructure.MeshTestHost.Client(provider);
        Assert.Equal("pod-0", await client.GetStringAsync(new Uri("/", UriKind.Relative)));
        await WaitUntilAsync(() => Api.OpenWatches == 1, "the watch");

        Api.ValidTokens.Clear();
        Api.CloseWatches();
        Assert.True(SpinWait.SpinUntil(() => Service(diagnostics)?.LastError?.Contains("401", StringComparison.Ordinal) == true, WatchRecorder.DefaultTimeout),
            "the 401 never reached the diagnostics");

        Api.ValidTokens["sa-token-one"] = true;
        Assert.True(SpinWait.SpinUntil(() => Service(diagnostics) is { LastError: null }, WatchRecorder.DefaultTimeout),
            $"LastError is still '{Service(diagnostics)?.LastError}' after the watch recovered");
    }

    private static Mesh.Client.Diagnostics.ServiceSnapshot? Service(Mesh.Client.Diagnostics.IMeshDiagnostics diagnostics) =>
        diagnostics.GetSnapshot().Services.FirstOrDefault(s => s.ServiceName == "catalog");

    [Fact]
    public async Task Without_get_on_services_the_ports_come_from_the_slices_and_the_permission_is_named_when_it_matters()
    {
        var logs = new FakeLogCollector();
        Api.ForbidServices = true;
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver(o => o.Ports["catalog.default"] = "80", logs.ToLoggerFactory());
        var byDefault = new WatchRecorder();
        var byServicePort = new WatchRecorder();
        using var w1 = resolver.Watch(new EndpointQuery("catalog", Http), byDefault);
        using var w2 = resolver.Watch(new EndpointQuery("catalog.default", Http), byServicePort);

        // The default port needs no Service: the slices carry it.
        await byDefault.WaitForAuthoritiesAsync("10.0.0.1:8080");
        Assert.Empty(byDefault.Errors);

        // Port 80 is the Service's port (the pods listen on 8080): only the Service could say so, and the error names the permission.
        var error = await byServicePort.WaitForErrorAsync(e => e.Message.Contains("services", StringComparison.Ordinal), "the permission error");
        Assert.Contains("may not 'get' 'services' in namespace 'default' (403 Forbidden)", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, logs.CountOf(209));
    }

    [Fact]
    public async Task The_relist_after_a_410_waits_a_random_delay_first()
    {
        var fake = new FakeTimeProvider();
        var clock = new ObservedClock(fake);
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver(o => (o.ReconnectDelay, o.MaxReconnectDelay) = (TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)), timeProvider: clock);
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitUntilAsync(() => Api.OpenWatches == 1, "the watch");

        // The server forgets its history (as after a restart) and ends the watch: the next watch is refused 410.
        Api.Compact();
        int delays = clock.Delays.Count;
        Api.CloseWatches();
        await clock.TimerCreated.WaitUntilAsync(() => clock.Delays.Count == delays + 1, "the reconnect delay");
        fake.Advance(clock.Delays.ToArray()[^1]);
        await WaitUntilAsync(() => Api.Watches == 2, "the refused watch");

        // The relist waits a random delay of at most ReconnectDelay, and only the clock ends it.
        await clock.TimerCreated.WaitUntilAsync(() => clock.Delays.Count == delays + 2, "the relist delay");
        var relistDelay = clock.Delays.ToArray()[^1];
        Assert.InRange(relistDelay, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        Assert.Equal(1, Api.Lists);
        fake.Advance(relistDelay);
        await WaitUntilAsync(() => Api.Lists == 2, "the relist");
        Assert.Empty(observer.Errors);
    }

    [Fact]
    public async Task Lists_are_paged_and_served_from_the_watch_cache_and_a_relist_asks_for_data_not_older_than_seen()
    {
        for (int i = 0; i < 5; i++)
        {
            Api.SetSlice("default", "catalog", $"catalog-{i}", Ready($"10.0.0.{i + 1}"));
        }

        using var resolver = _cluster.CreateResolver(o => o.ListPageSize = 2);
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        await observer.WaitForAsync(list => list.Count == 5, "five endpoints");
        Assert.Single(observer.Snapshots); // one publication for the whole list, not one per page

        var pages = Api.ListRequests.ToArray();
        Assert.Equal(3, pages.Length);
        Assert.Equal(new ListRequest("0", null, 2, null), pages[0]);
        Assert.Equal(new ListRequest(null, null, 2, "2"), pages[1]);
        Assert.Equal(new ListRequest(null, null, 2, "4"), pages[2]);

        // A 410 relists (after a random delay) from the watch cache, not older than the last version seen.
        await WaitUntilAsync(() => Api.OpenWatches == 1, "the watch");
        long last = Api.SetSlice("default", "catalog", "catalog-0", Ready("10.0.9.9"));
        await observer.WaitForAsync(list => list.Any(e => e.Host == "10.0.9.9"), "the change");
        Api.Compact();
        Api.CloseWatches();
        await WaitUntilAsync(() => Api.ListRequests.Count == 6, "a relist");
        Assert.Equal(new ListRequest(last.ToString(CultureInfo.InvariantCulture), "NotOlderThan", 2, null), Api.ListRequests.ToArray()[3]);
    }
}
