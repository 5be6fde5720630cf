using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Client.Kubernetes.Tests.Discovery;

/// <summary>The list-then-watch protocol against the stand-in API server.</summary>
public sealed class EndpointSliceWatchTests : IAsyncLifetime
{
    private static readonly string[] Http = ["http"];
    private KubernetesTestCluster _cluster = null!;

    private FakeKubernetesApiServer Api => _cluster.Api;

    public async Task InitializeAsync()
    {
        _cluster = await KubernetesTestCluster.StartAsync();
        Api.AddService("default", "catalog");
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static FakeEndpoint[] Ready(params string[] ips) => ips.Select(ip => new FakeEndpoint(ip)).ToArray();

    private (KubernetesEndpointResolver Resolver, WatchRecorder Observer, IDisposable Watch) Start(string name = "catalog",
        Action<KubernetesResolverOptions>? configure = null, FakeLogCollector? logs = null)
    {
        var resolver = _cluster.CreateResolver(configure, logs?.ToLoggerFactory());
        var observer = new WatchRecorder();
        var watch = resolver.Watch(new EndpointQuery(name, Http), observer);
        Assert.NotNull(watch);
        return (resolver, observer, watch);
    }

    [Fact]
    public async Task Lists_then_watches_and_publishes_scale_up_and_scale_down()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;

        var first = await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");
        Assert.All(first, e => Assert.Equal("http", e.Scheme));

        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2", "10.0.0.3"));
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080");

        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.3"));
        await observer.WaitForAuthoritiesAsync("10.0.0.3:8080");
        Assert.Equal(1, Api.Lists);
        Assert.Equal(1, Api.Watches);
    }

    [Fact]
    public async Task A_pod_going_not_ready_is_excluded_and_comes_back_when_ready()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");

        Api.SetSlice("default", "catalog", "catalog-abc", [new("10.0.0.1"), new("10.0.0.2", Ready: false, Serving: false, Terminating: false)]);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");

        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");
    }

    [Fact]
    public async Task Terminating_but_serving_pods_are_used_only_when_none_is_ready()
    {
        Api.SetSlice("default", "catalog", "catalog-abc",
            [new("10.0.0.1"), new("10.0.0.2", Ready: false, Serving: true, Terminating: true)]);
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");

        // The last ready pod starts terminating too: both still serve, so both are used rather than none.
        Api.SetSlice("default", "catalog", "catalog-abc",
            [new("10.0.0.1", Ready: false, Serving: true, Terminating: true), new("10.0.0.2", Ready: false, Serving: true, Terminating: true)]);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");

        // A terminating pod that stopped serving is dropped.
        Api.SetSlice("default", "catalog", "catalog-abc",
            [new("10.0.0.1", Ready: false, Serving: false, Terminating: true), new("10.0.0.2", Ready: false, Serving: true, Terminating: true)]);
        await observer.WaitForAuthoritiesAsync("10.0.0.2:8080");
    }

    [Fact]
    public async Task A_service_split_across_two_slices_is_merged_and_a_deleted_slice_removes_its_endpoints()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        Api.SetSlice("default", "catalog", "catalog-def", Ready("10.0.1.1", "10.0.1.2"));
        Api.SetSlice("default", "other", "other-xyz", Ready("10.9.9.9"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.1.1:8080", "10.0.1.2:8080");

        Api.DeleteSlice("default", "catalog-def");
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
    }

    [Fact]
    public async Task Node_zone_and_pod_are_kept_on_endpoints_and_IPv6_addresses_work()
    {
        Api.AddService("default", "v6", ipFamilies: ["IPv6"]);
        Api.SetSlice("default", "v6", "v6-abc", [new("fd00::1", Zone: "zone-a", Node: "node-1", Pod: "v6-pod-1")], addressType: "IPv6");
        var (resolver, observer, watch) = Start("v6");
        using var _ = resolver;
        using var __ = watch;

        var endpoints = await observer.WaitForAuthoritiesAsync("[fd00::1]:8080");
        var endpoint = Assert.Single(endpoints);
        Assert.Equal("zone-a", endpoint.Zone);
        Assert.Equal("node-1", endpoint.Metadata[EndpointSliceProjection.NodeNameKey]);
        Assert.Equal("v6-pod-1", endpoint.Metadata[EndpointSliceProjection.PodNameKey]);
        Assert.Equal("default", endpoint.Metadata[EndpointSliceProjection.NamespaceKey]);
    }

    [Theory]
    [InlineData(GoneMode.Status)]
    [InlineData(GoneMode.InStream)]
    public async Task An_expired_resource_version_relists_and_catches_up(GoneMode mode)
    {
        Api.GoneMode = mode;
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();

        // The server forgets its history and drops the watch; a change happens while the client is away.
        Api.Compact();
        Api.CloseWatches();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));

        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");
        Assert.True(Api.Lists >= 2, $"expected a relist, saw {Api.Lists} lists");
        Assert.Empty(observer.Errors);
    }

    [Fact]
    public async Task A_bookmark_moves_the_resource_version_a_reconnect_resumes_from()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();

        // Confirm the bookmark was read before closing: a change after it arrives on the same stream.
        long bookmark = Api.Bookmark();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.2"));
        await observer.WaitForAuthoritiesAsync("10.0.0.2:8080");
        Api.CloseWatches();
        await WaitUntilAsync(() => Api.Watches >= 2, "a second watch");

        var versions = Api.WatchResourceVersions.ToArray();
        Assert.True(long.Parse(versions[1], System.Globalization.CultureInfo.InvariantCulture) > bookmark,
            $"the second watch started from {versions[1]}, not after the bookmark {bookmark}");
        Assert.Equal(1, Api.Lists);
    }

    [Fact]
    public async Task A_stream_cut_in_the_middle_of_an_event_reconnects_and_loses_nothing()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();

        Api.CutWatchesAtNextEvent();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));

        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");
        Assert.True(Api.Watches >= 2);
        Assert.All(observer.Snapshots, s => Assert.All(s, e => Assert.StartsWith("10.0.0.", e.Host, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_slow_stream_delivering_events_in_pieces_is_assembled_correctly()
    {
        Api.SlowStream = true;
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start();
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();

        Api.SetSlice("default", "catalog", "catalog-abc", Ready(Enumerable.Range(1, 20).Select(i => $"10.0.3.{i}").ToArray()));
        await observer.WaitForAsync(list => list.Count == 20, "twenty endpoints");
        Assert.Empty(observer.Errors);
    }

    [Theory]
    [InlineData(false)] // the watch's first line: KubernetesClient decodes it when it opens the watch
    [InlineData(true)]  // a later line: KubernetesClient reports it to onError and would read on
    public async Task A_malformed_event_is_skipped_with_a_warning_and_the_watch_relists_and_goes_on(bool afterAnEvent)
    {
        var logs = new FakeLogCollector();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start(logs: logs);
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();
        if (afterAnEvent)
        {
            Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.3"));
            await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.3:8080");
        }

        Api.SendMalformed();
        await logs.WaitForEventAsync(207, "the malformed-event warning");
        Assert.Equal(1, logs.CountOf(207));
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1", "10.0.0.2"));

        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080", "10.0.0.2:8080");
        Assert.Equal(2, Api.Lists);
        Assert.All(observer.Snapshots, s => Assert.NotEmpty(s));
    }

    [Fact]
    public async Task An_API_server_restart_keeps_the_last_good_endpoints_and_recovers_by_itself()
    {
        var logs = new FakeLogCollector();
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start(logs: logs);
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();

        Api.Unavailable = true;
        await Api.RestartAsync(forgetHistory: true);
        await observer.WaitForErrorAsync(e => e.Message.Contains("503", StringComparison.Ordinal), "a 503 while the server is unavailable");
        Assert.Equal(["10.0.0.1:8080"], observer.Latest!.Select(e => e.Authority));

        await WaitUntilAsync(() => Api.UnavailableAnswers >= 3, "several retries against the unavailable server");

        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.7"));
        Api.Unavailable = false;
        await observer.WaitForAuthoritiesAsync("10.0.0.7:8080");

        // Logged per change of state (the cut connection, then the 503s), not per retry; once on recovery.
        await logs.WaitForEventAsync(205, "the recovery log");
        Assert.Equal(1, logs.CountOf(205));
        Assert.InRange(logs.CountOf(204), 1, 2);
        Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 204 && r.Text().Contains("503", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_rejected_token_keeps_last_good_never_shows_the_token_and_a_rotated_token_recovers()
    {
        var logs = new FakeLogCollector();
        const string rotated = "sa-token-two-SECRET-7f3a";
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var (resolver, observer, watch) = Start(logs: logs);
        using var _ = resolver;
        using var __ = watch;
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await WaitForOpenWatchAsync();

        // The API server now accepts only the rotated token; the pod's file still has the old one.
        Api.ValidTokens.Clear();
        Api.ValidTokens[rotated] = true;
        Api.CloseWatches();
        var error = await observer.WaitForErrorAsync(e => e.Message.Contains("401", StringComparison.Ordinal), "a 401");
        Assert.Equal(["10.0.0.1:8080"], observer.Latest!.Select(e => e.Authority));

        // kubelet rotates the token file: the next attempt reads it, and the watch resumes.
        _cluster.WriteToken(rotated);
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.2"));
        await observer.WaitForAuthoritiesAsync("10.0.0.2:8080");
        Assert.Contains(rotated, Api.TokensSeen);

        foreach (var token in new[] { "sa-token-one", rotated })
        {
            Assert.DoesNotContain(token, logs.AllText(), StringComparison.Ordinal);
            Assert.DoesNotContain(token, error.ToString(), StringComparison.Ordinal);
            Assert.All(observer.Errors, e => Assert.DoesNotContain(token, e.ToString(), StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Clients_of_one_service_share_one_watch_which_stops_with_the_last()
    {
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        using var resolver = _cluster.CreateResolver();
        var first = new WatchRecorder();
        var second = new WatchRecorder();
        var third = new WatchRecorder();
        var watch1 = resolver.Watch(new EndpointQuery("catalog", Http), first)!;
        await first.WaitForAuthoritiesAsync("10.0.0.1:8080");
        var watch2 = resolver.Watch(new EndpointQuery("catalog.default", Http), second)!;
        var watch3 = resolver.Watch(new EndpointQuery("catalog.default.svc.cluster.local", ["https", "http"]), third)!;

        // A late subscriber gets the current view at once, without another list.
        Assert.Equal(["10.0.0.1:8080"], second.Latest!.Select(e => e.Authority));
        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.2"));
        await first.WaitForAuthoritiesAsync("10.0.0.2:8080");
        await second.WaitForAuthoritiesAsync("10.0.0.2:8080");
        await third.WaitForAuthoritiesAsync("10.0.0.2:8080");
        Assert.Equal(1, Api.Lists);
        Assert.Equal(1, Api.Watches);
        Assert.Equal(1, resolver.WatchCount);

        var shared = resolver.GetWatch("catalog", "default")!;
        watch1.Dispose();
        watch2.Dispose();
        Assert.Equal(1, resolver.WatchCount);
        watch3.Dispose();
        Assert.Equal(0, resolver.WatchCount);
        await shared.Completion.WaitAsync(WatchRecorder.DefaultTimeout);
        await WaitUntilAsync(() => Api.OpenWatches == 0, "the watch to close");
    }

    [Fact]
    public async Task A_misspelled_service_reports_ServiceNotFoundException_and_a_service_created_later_is_picked_up()
    {
        var (resolver, observer, watch) = Start("catalgo");
        using var _ = resolver;
        using var __ = watch;

        var error = await observer.WaitForErrorAsync(e => e.Message.Contains("not found", StringComparison.Ordinal), "not found");
        var notFound = Assert.IsType<ServiceNotFoundException>(error); // the mesh fails waiting requests with it at once
        Assert.Equal("Kubernetes service 'catalgo' was not found in namespace 'default'; check the name (or deploy the Service).", notFound.Message);
        Assert.Equal("catalgo", notFound.ServiceName);

        Api.AddService("default", "catalgo");
        Api.SetSlice("default", "catalgo", "catalgo-abc", Ready("10.0.0.5"));
        await observer.WaitForAuthoritiesAsync("10.0.0.5:8080");
    }

    [Fact]
    public async Task A_port_is_chosen_by_name_by_number_or_by_the_endpoint_name_of_the_uri()
    {
        Api.AddService("default", "multi", [("http", 80), ("grpc", 9000), ("metrics", 9090)]);
        Api.SetSlice("default", "multi", "multi-abc", Ready("10.0.0.1"), [("http", 8080), ("grpc", 9001), ("metrics", 9091)]);
        using var plain = _cluster.CreateResolver();
        using var resolver = _cluster.CreateResolver(o =>
        {
            o.Ports["multi"] = "9090";   // the Service's port number → its name → the pods' port; any form of the name
            o.Ports["multi.default"] = "grpc"; // this form only
        });
        var byDefault = new WatchRecorder();
        var byNumber = new WatchRecorder();
        var byName = new WatchRecorder();
        var byEndpointName = new WatchRecorder();
        var missing = new WatchRecorder();
        using var w1 = plain.Watch(new EndpointQuery("multi.default.svc", Http), byDefault)!;
        using var w2 = resolver.Watch(new EndpointQuery("multi", Http), byNumber)!;
        using var w3 = resolver.Watch(new EndpointQuery("multi.default", Http), byName)!;
        using var w4 = resolver.Watch(new EndpointQuery("multi.default.svc", Http, endpointName: "metrics"), byEndpointName)!;
        using var w5 = resolver.Watch(new EndpointQuery("multi.default.svc", Http, endpointName: "admin"), missing)!;

        await byDefault.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await byNumber.WaitForAuthoritiesAsync("10.0.0.1:9091");
        await byName.WaitForAuthoritiesAsync("10.0.0.1:9001");
        await byEndpointName.WaitForAuthoritiesAsync("10.0.0.1:9091");
        var error = await missing.WaitForErrorAsync(e => e.Message.Contains("admin", StringComparison.Ordinal), "no port named admin");
        Assert.Equal("Kubernetes service 'multi' in namespace 'default' has no port named 'admin'; its ports: http 80, grpc 9000, metrics 9090.", error.Message);
    }

    [Fact]
    public async Task A_server_whose_certificate_another_CA_signed_is_refused()
    {
        await using var impostor = await FakeKubernetesApiServer.StartAsync(TestCertificates.Shared.OtherServer);
        impostor.ValidTokens["sa-token-one"] = true;
        impostor.AddService("default", "catalog");
        var resolver = _cluster.CreateResolver(o =>
        {
            var port = impostor.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            o.Environment = name => name switch { "KUBERNETES_SERVICE_HOST" => "127.0.0.1", "KUBERNETES_SERVICE_PORT" => port, _ => null };
        });
        using var _ = resolver;
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);

        await observer.WaitForErrorAsync(e => e is HttpRequestException, "a TLS failure");
        Assert.Equal(0, impostor.ServiceReads);
        Assert.DoesNotContain("sa-token-one", impostor.TokensSeen);
    }

    [Fact]
    public async Task Without_credentials_no_name_is_claimed_unless_listed()
    {
        var options = new KubernetesResolverOptions
        {
            Environment = _ => null,
            ServiceAccountPath = Path.Combine(_cluster.ServiceAccountPath, "absent"),
            KubeConfigPath = Path.Combine(_cluster.ServiceAccountPath, "absent-kubeconfig"),
        };
        using var unlisted = new KubernetesEndpointResolver(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System);
        Assert.Null(unlisted.Watch(new EndpointQuery("catalog", Http), new WatchRecorder()));

        options.Services.Add("catalog");
        using var listed = new KubernetesEndpointResolver(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System);
        var observer = new WatchRecorder();
        using var watch = listed.Watch(new EndpointQuery("catalog", Http), observer);
        Assert.NotNull(watch);
        Assert.Contains("No usable Kubernetes credentials", Assert.Single(observer.Errors).Message, StringComparison.Ordinal);
        Assert.Null(listed.Watch(new EndpointQuery("inventory", Http), new WatchRecorder()));
    }

    [Fact]
    public async Task Names_outside_the_kubernetes_forms_or_the_services_list_are_not_claimed()
    {
        using var resolver = _cluster.CreateResolver(o => o.Services.Add("catalog.default"));
        Assert.Null(resolver.Watch(new EndpointQuery("api.example.com", Http), new WatchRecorder()));
        Assert.Null(resolver.Watch(new EndpointQuery("localhost", Http), new WatchRecorder()));
        Assert.Null(resolver.Watch(new EndpointQuery("127.0.0.1", Http), new WatchRecorder()));
        Assert.Null(resolver.Watch(new EndpointQuery("inventory", Http), new WatchRecorder()));
        Assert.Null(resolver.Watch(new EndpointQuery("catalog.shop", Http), new WatchRecorder()));

        Api.SetSlice("default", "catalog", "catalog-abc", Ready("10.0.0.1"));
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", Http), observer);
        Assert.NotNull(watch);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
    }

    private Task WaitForOpenWatchAsync() => Api.Changed.WaitUntilAsync(() => Api.OpenWatches > 0, "an open watch");

    private Task WaitUntilAsync(Func<bool> condition, string what) => Api.Changed.WaitUntilAsync(condition, what);
}
