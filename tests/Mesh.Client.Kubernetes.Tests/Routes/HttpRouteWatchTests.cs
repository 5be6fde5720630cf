using System.Globalization;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Routes;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Kubernetes.Tests.Routes;

/// <summary>The HTTPRoute source against the API stand-in: list, watch, bookmarks, 410, 404 and 403.</summary>
public sealed class HttpRouteWatchTests : IAsyncLifetime
{
    private const string Split = """
        { "parentRefs": [ { "group": "", "kind": "Service", "name": "catalog" } ],
          "rules": [ { "backendRefs": [ { "name": "catalog-v1", "weight": {{V1}} }, { "name": "catalog-v2", "weight": {{V2}} } ] } ] }
        """;

    private readonly FakeLogCollector _logs = new();
    private readonly List<IDisposable> _disposables = [];
    private KubernetesTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await KubernetesTestCluster.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        await _cluster.DisposeAsync();
    }

    private static string Weights(int v1, int v2) => 
        Split.Replace("{{V1}}", v1.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{V2}}", v2.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private KubernetesRouteSource CreateSource(Action<KubernetesResolverOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new KubernetesResolverOptions();
        _cluster.Configure(options);
        configure?.Invoke(options);
        Assert.Empty(options.Validate());
        var wrapped = Microsoft.Extensions.Options.Options.Create(options);
        var connection = new KubernetesConnection(wrapped, _logs.ToLoggerFactory());
        var source = new KubernetesRouteSource(wrapped, connection, time ?? TimeProvider.System, _logs.ToLoggerFactory());
        _disposables.Add(source);
        _disposables.Add(connection);
        return source;
    }

    private static (string Service, int Weight)[] Backends(IReadOnlyList<MeshRoute> routes) =>
        [.. routes.SelectMany(r => r.Backends).Select(b => (b.Service!, b.Weight))];

    [Fact]
    public async Task Routes_are_listed_then_followed_through_watch_events_and_published_only_when_they_change()
    {
        var api = _cluster.Api;
        api.SetHttpRoute("default", "split", Weights(90, 10));
        var source = CreateSource();
        var recorder = new RouteRecorder();
        using var watch = source.Watch(new EndpointQuery("catalog", ["http"]), recorder);
        Assert.NotNull(watch);

        await recorder.WaitForAnswersAsync(1);
        Assert.Equal([("catalog-v1", 90), ("catalog-v2", 10)], Backends(recorder.Answers[0].Routes));
        Assert.Equal("default/split/0", recorder.Answers[0].Routes[0].Name);

        await api.Changed.WaitUntilAsync(() => api.OpenHttpRouteWatches == 1, "the watch");
        api.SetHttpRoute("default", "split", Weights(0, 100));
        await recorder.WaitForAnswersAsync(2);
        Assert.Equal([("catalog-v1", 0), ("catalog-v2", 100)], Backends(recorder.Answers[1].Routes));

        // A route for another Service changes nothing for this one: nothing is published.
        api.SetHttpRoute("default", "other", """{ "parentRefs": [ { "kind": "Service", "name": "inventory" } ] }""");
        api.DeleteHttpRoute("default", "split");
        await recorder.WaitForAnswersAsync(3);
        Assert.Empty(recorder.Answers[2].Routes);
        Assert.Equal(3, recorder.Answers.Count);
        Assert.Empty(recorder.Errors);
    }

    [Fact]
    public async Task One_watch_per_namespace_serves_every_service_in_it_and_stops_with_the_last()
    {
        var api = _cluster.Api;
        api.SetHttpRoute("default", "split", Weights(1, 1));
        var source = CreateSource();
        var catalog = new RouteRecorder();
        var inventory = new RouteRecorder();
        var watchCatalog = source.Watch(new EndpointQuery("catalog", ["http"]), catalog)!;
        var watchInventory = source.Watch(new EndpointQuery("inventory.default", ["http"]), inventory)!;
        await catalog.WaitForAnswersAsync(1);
        await inventory.WaitForAnswersAsync(1);
        await api.Changed.WaitUntilAsync(() => api.OpenHttpRouteWatches == 1, "the watch");
        Assert.Single(catalog.Answers[0].Routes);
        Assert.Empty(inventory.Answers[0].Routes);
        Assert.Equal(1, api.HttpRouteLists);
        Assert.Equal(1, source.WatchCount);

        watchCatalog.Dispose();
        Assert.Equal(1, source.WatchCount);
        watchInventory.Dispose();
        Assert.Equal(0, source.WatchCount);
        await api.Changed.WaitUntilAsync(() => api.OpenHttpRouteWatches == 0, "the watch to close");
    }

    [Fact]
    public async Task A_closed_watch_resumes_from_the_last_bookmark_and_410_lists_again_without_republishing()
    {
        var api = _cluster.Api;
        api.SetHttpRoute("default", "split", Weights(90, 10));
        var source = CreateSource();
        var recorder = new RouteRecorder();
        using var watch = source.Watch(new EndpointQuery("catalog", ["http"]), recorder);
        await recorder.WaitForAnswersAsync(1);
        await api.Changed.WaitUntilAsync(() => api.OpenHttpRouteWatches == 1, "the watch");

        long bookmark = api.HttpRouteBookmark();
        api.CloseHttpRouteWatches();
        await api.Changed.WaitUntilAsync(() => api.HttpRouteWatchResourceVersions.Count == 2, "the second watch");
        Assert.Equal(bookmark.ToString(CultureInfo.InvariantCulture), api.HttpRouteWatchResourceVersions.Last());

        // The history is compacted: the next watch is refused 410, and the routes are listed again. They are the
        // same, so the subscriber hears nothing new.
        await api.Changed.WaitUntilAsync(() => api.OpenHttpRouteWatches == 1, "the watch reopened");
        api.Compact();
        api.SetSlice("default", "unrelated", "unrelated-0", [new FakeEndpoint("10.0.0.9")]); // as on a real server, the newest version stays watchable
        api.CloseHttpRouteWatches();
        await api.Changed.WaitUntilAsync(() => api.HttpRouteLists == 2 && api.OpenHttpRouteWatches == 1, "the relist and a new watch",
            onTimeout: () => $"lists {api.HttpRouteLists}, watches {api.HttpRouteWatches} open {api.OpenHttpRouteWatches} from {string.Join(",", api.HttpRouteWatchResourceVersions)}\n{_logs.AllText()}");
        Assert.Single(recorder.Answers);

        api.SetHttpRoute("default", "split", Weights(50, 50));
        await recorder.WaitForAnswersAsync(2);
        Assert.Equal([("catalog-v1", 50), ("catalog-v2", 50)], Backends(recorder.Answers[1].Routes));
    }

    [Fact]
    public async Task An_in_stream_410_lists_again()
    {
        var api = _cluster.Api;
        api.SetHttpRoute("default", "split", Weights(90, 10));
        var source = CreateSource();
        var recorder = new RouteRecorder();
        using var watch = source.Watch(new EndpointQuery("catalog", ["http"]), recorder);
        await recorder.WaitForAnswersAsync(1);
        await api.Changed.WaitUntilAsync(() => api.OpenHttpRouteWatches == 1, "the watch");

        api.SendHttpRouteError(410, "Expired", "too old resource version");
        await api.Changed.WaitUntilAsync(() => api.HttpRouteLists == 2, "the relist");
        api.SetHttpRoute("default", "split", Weights(10, 90));
        await recorder.WaitForAnswersAsync(2);
        Assert.Equal([("catalog-v1", 10), ("catalog-v2", 90)], Backends(recorder.Answers[1].Routes));
        Assert.Empty(recorder.Errors);
    }

    [Fact]
    public async Task Without_the_CRD_there_are_no_routes_logged_once_and_checked_again_only_after_the_long_delay()
    {
        var api = _cluster.Api;
        api.HttpRoutesInstalled = false;
        var manual = new FakeTimeProvider();
        var clock = new ObservedClock(manual, TimeSpan.FromSeconds(40));
        var source = CreateSource(o =>
        {
            o.MaxReconnectDelay = TimeSpan.FromSeconds(30);
            o.RequestTimeout = TimeSpan.FromSeconds(50);
        }, clock);
        var recorder = new RouteRecorder();
        using var watch = source.Watch(new EndpointQuery("catalog", ["http"]), recorder);

        await recorder.WaitForAnswersAsync(1);
        Assert.Empty(recorder.Answers[0].Routes); // an answer: requests do not wait for routes that cannot come
        Assert.Empty(recorder.Errors);
        await clock.TimerCreated.WaitUntilAsync(() => !clock.Delays.IsEmpty, "the recheck delay");
        var delay = Assert.Single(clock.Delays);
        Assert.InRange(delay.TotalSeconds, 15, 30);
        Assert.Equal(1, _logs.CountOf(213));

        api.HttpRoutesInstalled = true;
        api.SetHttpRoute("default", "split", Weights(90, 10));
        manual.Advance(delay - TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, api.HttpRouteLists);
        manual.Advance(TimeSpan.FromMilliseconds(1));
        await recorder.WaitForAnswersAsync(2);
        Assert.Equal([("catalog-v1", 90), ("catalog-v2", 10)], Backends(recorder.Answers[1].Routes));
        Assert.Equal(1, _logs.CountOf(213));
    }

    [Fact]
    public async Task Forbidden_is_reported_once_with_the_permission_to_grant()
    {
        var api = _cluster.Api;
        api.ForbidHttpRoutes = true;
        var source = CreateSource();
        var recorder = new RouteRecorder();
        using var watch = source.Watch(new EndpointQuery("catalog", ["http"]), recorder);

        await recorder.Changed.WaitUntilAsync(() => recorder.Errors.Count == 1, "the error");
        var error = recorder.Errors[0];
        Assert.Contains("may not read HTTPRoutes in namespace 'default' (403 Forbidden)", error.Message, StringComparison.Ordinal);
        Assert.Contains("get, list and watch on 'httproutes' in API group 'gateway.networking.k8s.io'", error.Message, StringComparison.Ordinal);

        // It keeps trying (short delays here), without telling the subscriber again; a granted Role is picked up.
        await api.Changed.WaitUntilAsync(() => api.HttpRouteLists >= 3, "retries");
        Assert.Single(recorder.Errors);
        Assert.Equal(1, _logs.CountOf(214));
        api.ForbidHttpRoutes = false;
        api.SetHttpRoute("default", "split", Weights(90, 10));
        await recorder.WaitForAnswersAsync(1);
        Assert.Equal(1, _logs.CountOf(215));
    }

    [Fact]
    public void Names_the_resolver_does_not_claim_and_the_option_turned_off_get_no_watch()
    {
        var recorder = new RouteRecorder();
        Assert.Null(CreateSource().Watch(new EndpointQuery("api.example.com", ["http"]), recorder));
        Assert.Null(CreateSource(o => o.Services.Add("inventory")).Watch(new EndpointQuery("catalog", ["http"]), recorder));
        Assert.Null(CreateSource(o => o.HttpRoutes = false).Watch(new EndpointQuery("catalog", ["http"]), recorder));
        Assert.Equal(0, _cluster.Api.HttpRouteLists);
    }
}
