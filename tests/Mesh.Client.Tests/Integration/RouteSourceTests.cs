using System.Collections.Concurrent;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Client.Tests.Integration;

/// <summary>
/// Routes from a route source (<see cref="IMeshRouteSource"/>, as Kubernetes HTTPRoutes are): applied live, awaited
/// before the first request is routed, checked like configuration, and overridden by configuration's own routes.
/// </summary>
public sealed class RouteSourceTests : IAsyncLifetime
{
    private TestBackend _v1 = null!;
    private TestBackend _v2 = null!;

    public async Task InitializeAsync()
    {
        _v1 = await TestBackend.StartAsync("v1");
        _v2 = await TestBackend.StartAsync("v2");
    }

    public async Task DisposeAsync()
    {
        await _v1.DisposeAsync();
        await _v2.DisposeAsync();
    }

    private Dictionary<string, string?> Endpoints() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Services:catalog:http:0"] = _v1.Address,
        ["Services:catalog-v2:http:0"] = _v2.Address,
    };

    private static MeshRoute Route(string name, params (string Service, int Weight)[] backends)
    {
        var route = new MeshRoute { Name = name };
        foreach (var (service, weight) in backends)
        {
            route.Backends.Add(new MeshRouteBackend { Service = service, Weight = weight });
        }

        return route;
    }

    private static ServiceProvider Build(TestRouteSource source, IConfiguration configuration) =>
        MeshTestHost.Build(mesh =>
        {
            mesh.Services.AddSingleton<IMeshRouteSource>(source);
            mesh.Services.AddFakeLogging();
        }, configuration);

    private static ServiceSnapshot Snapshot(IServiceProvider provider) =>
        provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services.Single(s => s.ServiceName == "catalog");

    private static async Task<string> GetAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/items", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task A_sources_routes_split_traffic_and_its_next_list_moves_new_requests_at_once()
    {
        var source = new TestRouteSource { Initial = [Route("canary", ("catalog-v2", 1))] };
        await using var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(Endpoints()).Build());
        var client = provider.Client();

        Assert.Equal("v2", await GetAsync(client));

        (await source.WatchedAsync("catalog")).OnRoutes([Route("stable", ("catalog", 1), ("catalog-v2", 0))], []);

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal("v1", await GetAsync(client)); // the first request after the list, and every one after it
        }
    }

    [Fact]
    public async Task The_first_request_waits_for_the_sources_first_answer_and_is_routed_by_it()
    {
        var source = new TestRouteSource();
        await using var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(Endpoints()).Build());

        var first = GetAsync(provider.Client());
        var observer = await source.WatchedAsync("catalog");
        var state = provider.GetRequiredService<ServiceRegistry>().All.Single(s => s.ServiceName == "catalog");
        await state.FirstResolution.WaitAsync(TimeSpan.FromSeconds(30)); // endpoints known: only the routes are awaited now
        Assert.False(state.IsReady);
        Assert.False(first.IsCompleted);

        observer.OnRoutes([Route("canary", ("catalog-v2", 1))], []);

        Assert.Equal("v2", await first); // not sent to catalog's own endpoints before the policy was known
    }

    [Fact]
    public async Task A_source_that_fails_before_answering_lets_requests_go_to_the_services_own_endpoints()
    {
        var source = new TestRouteSource();
        await using var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(Endpoints()).Build());

        var first = GetAsync(provider.Client());
        (await source.WatchedAsync("catalog")).OnError(new InvalidOperationException("forbidden: cannot list httproutes"));

        Assert.Equal("v1", await first);
        var state = provider.GetRequiredService<ServiceRegistry>().All.Single(s => s.ServiceName == "catalog");
        Assert.Contains("forbidden", state.RouteError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_that_never_answers_fails_the_first_request_after_the_resolution_timeout_naming_the_source()
    {
        var data = Endpoints();
        data["Mesh:Services:catalog:ResolutionTimeout"] = "00:00:00.300";
        var source = new TestRouteSource();
        await using var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(data).Build());

        var error = await Assert.ThrowsAsync<ResolutionTimeoutException>(() => GetAsync(provider.Client()));

        Assert.Contains("test-routes", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<HttpRequestException>(error);
    }

    [Fact]
    public async Task A_list_with_a_bad_route_is_rejected_whole_and_the_last_good_routes_stay_in_force()
    {
        var source = new TestRouteSource { Initial = [Route("canary", ("catalog-v2", 1))] };
        await using var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(Endpoints()).Build());
        var client = provider.Client();
        Assert.Equal("v2", await GetAsync(client));

        (await source.WatchedAsync("catalog")).OnRoutes([Route("stable", ("catalog", 1)), Route("broken", ("catalog", -1))], []);

        Assert.Equal("v2", await GetAsync(client));
        var state = provider.GetRequiredService<ServiceRegistry>().All.Single(s => s.ServiceName == "catalog");
        Assert.Contains("'test-routes:catalog:Routes:1:Backends:0:Weight' is '-1'", state.RouteError!.Message, StringComparison.Ordinal);
        var logs = provider.GetFakeLogCollector().GetSnapshot();
        Assert.Single(logs, r => r.Level == LogLevel.Warning && r.Message.Contains("Route source 'test-routes' failed", StringComparison.Ordinal));
        Assert.Contains("were rejected", Assert.Single(Snapshot(provider).RouteWarnings), StringComparison.Ordinal);

        (await source.WatchedAsync("catalog")).OnRoutes([Route("stable", ("catalog", 1))], []);

        Assert.Equal("v1", await GetAsync(client));
        Assert.Null(state.RouteError); // a good list clears it
    }

    [Fact]
    public async Task Routes_in_configuration_take_precedence_and_a_reload_that_removes_them_lets_the_sources_apply()
    {
        var data = Endpoints();
        data["Mesh:Services:catalog:Routes:0:Name"] = "configured";
        data["Mesh:Services:catalog:Routes:0:Backends:0:Service"] = "catalog";
        var configuration = new MutableConfigurationSource(data);
        var source = new TestRouteSource { Initial = [Route("canary", ("catalog-v2", 1))] };
        await using var provider = Build(source, new ConfigurationBuilder().Add(configuration).Build());
        var client = provider.Client();

        Assert.Equal("v1", await GetAsync(client));
        Assert.Contains(provider.GetFakeLogCollector().GetSnapshot(),
            r => r.Level == LogLevel.Warning && r.Message.Contains("not applied", StringComparison.Ordinal));
        Assert.Equal("options", Snapshot(provider).RouteSource);
        Assert.Contains("set aside", Assert.Single(Snapshot(provider).RouteWarnings), StringComparison.Ordinal);

        configuration.Replace(Endpoints());

        Assert.Equal("v2", await GetAsync(client));
    }

    [Fact]
    public async Task What_a_source_left_out_is_logged_once_per_message_and_kept_for_diagnostics()
    {
        var source = new TestRouteSource { Initial = [Route("canary", ("catalog-v2", 1))] };
        await using var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(Endpoints()).Build());
        var client = provider.Client();
        Assert.Equal("v2", await GetAsync(client));
        var observer = (await source.WatchedAsync("catalog"));

        string note = "HTTPRoute shop/catalog rule 0: filter RequestMirror is not supported";
        observer.OnRoutes([Route("canary", ("catalog-v2", 1))], [note]);
        observer.OnRoutes([Route("canary", ("catalog-v2", 1))], [note]);

        var state = provider.GetRequiredService<ServiceRegistry>().All.Single(s => s.ServiceName == "catalog");
        Assert.Equal([note], state.IgnoredRouteFields);
        Assert.Single(provider.GetFakeLogCollector().GetSnapshot(), r => r.Message.Contains(note, StringComparison.Ordinal));
        var snapshot = Snapshot(provider);
        Assert.Equal("test-routes", snapshot.RouteSource);
        Assert.Equal([note], snapshot.RouteWarnings);
        Assert.Equal("canary", Assert.Single(snapshot.Routes).Name);
    }

    [Fact]
    public async Task A_source_is_asked_for_every_service_a_client_uses_and_its_watch_stops_with_the_service()
    {
        var source = new TestRouteSource { Initial = [Route("canary", ("catalog-v2", 1))] };
        var provider = Build(source, new ConfigurationBuilder().AddInMemoryCollection(Endpoints()).Build());
        Assert.Equal("v2", await GetAsync(provider.Client()));

        Assert.Equal(["catalog", "catalog-v2"], source.Asked.Order(StringComparer.Ordinal));
        await provider.DisposeAsync();

        Assert.Equal(1, source.Stopped); // the one watch it returned (catalog-v2 was declined)
    }

    /// <summary>A route source the test drives: it claims <c>catalog</c> and publishes what the test says.</summary>
    private sealed class TestRouteSource : IMeshRouteSource
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource<IMeshRouteObserver>> _watched = new(StringComparer.Ordinal);
        private int _stopped;

        public string Name => "test-routes";

        /// <summary>Published from inside <see cref="Watch"/>, as a source with a synced cache does.</summary>
        public IReadOnlyList<MeshRoute>? Initial { get; init; }

        public ConcurrentQueue<string> Asked { get; } = new();

        public int Stopped => Volatile.Read(ref _stopped);

        public IDisposable? Watch(EndpointQuery query, IMeshRouteObserver observer)
        {
            Asked.Enqueue(query.ServiceName);
            if (query.ServiceName != "catalog")
            {
                return null;
            }

            if (Initial is not null)
            {
                observer.OnRoutes(Initial, []);
            }

            Slot(query.ServiceName).TrySetResult(observer);
            return new Stop(this);
        }

        public Task<IMeshRouteObserver> WatchedAsync(string service) => Slot(service).Task.WaitAsync(TimeSpan.FromSeconds(30));

        private TaskCompletionSource<IMeshRouteObserver> Slot(string service) =>
            _watched.GetOrAdd(service, _ => new TaskCompletionSource<IMeshRouteObserver>(TaskCreationOptions.RunContinuationsAsynchronously));

        private sealed class Stop(TestRouteSource source) : IDisposable
        {
            public void Dispose() => Interlocked.Increment(ref source._stopped);
        }
    }
}
