using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// Microsoft.Extensions.ServiceDiscovery providers feeding the mesh: a custom <see cref="IServiceEndpointProviderFactory"/>
/// with live updates through its change token, polling when it has none, the last-good and unknown-service rules,
/// and Aspire's configuration (environment variables <c>services__catalog__http__0</c>) with <c>AddServiceDiscovery()</c>.
/// </summary>
public sealed class ServiceDiscoveryEndpointResolverTests : IAsyncLifetime
{
    private TestBackend _a = null!;
    private TestBackend _b = null!;

    public async Task InitializeAsync()
    {
        _a = await TestBackend.StartAsync("a");
        _b = await TestBackend.StartAsync("b");
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task A_custom_provider_feeds_the_mesh_and_its_change_token_moves_traffic_live()
    {
        var registry = new FakeRegistry("catalog");
        registry.Set(_a.Address);
        using var provider = Build(services => services.AddSingleton<IServiceEndpointProviderFactory>(registry));
        var client = provider.Client();

        Assert.Equal("a", await client.GetStringAsync(new Uri("/one", UriKind.Relative)));

        var updated = registry.NextPopulation();
        registry.Set(_b.Address); // fires the change token
        await updated.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitForEndpointAsync(provider, _b.Authority);

        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("b", await client.GetStringAsync(new Uri("/two", UriKind.Relative)));
        }

        var service = Assert.Single(provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);
        Assert.Equal(ServiceDiscoveryEndpointResolver.ResolverName, service.Resolver);
    }

    [Fact]
    public async Task A_provider_that_fails_after_a_success_keeps_the_last_endpoints()
    {
        var registry = new FakeRegistry("catalog");
        registry.Set(_a.Address);
        using var provider = Build(services => services.AddSingleton<IServiceEndpointProviderFactory>(registry));
        var client = provider.Client();
        Assert.Equal("a", await client.GetStringAsync(new Uri("/", UriKind.Relative)));

        var failed = registry.NextPopulation();
        registry.Fail(new HttpRequestException("registry unreachable"));
        await failed.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitForErrorAsync(provider, "registry unreachable");

        Assert.Equal("a", await client.GetStringAsync(new Uri("/", UriKind.Relative)));
        var service = Assert.Single(provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);
        Assert.Contains("registry unreachable", service.LastError, StringComparison.Ordinal);
        Assert.Equal(_a.Authority, Assert.Single(service.Endpoints).Address);
    }

    [Fact]
    public async Task A_name_no_provider_has_endpoints_for_fails_at_once_with_ServiceNotFoundException()
    {
        var registry = new FakeRegistry("catalog"); // knows catalog only: every other name comes back empty
        registry.Set(_a.Address);
        using var provider = Build(services => services.AddSingleton<IServiceEndpointProviderFactory>(registry), baseAddress: "http://catalgo");

        var error = await Assert.ThrowsAsync<ServiceNotFoundException>(() => provider.Client().GetAsync(new Uri("/", UriKind.Relative)));

        Assert.Equal("catalgo", error.ServiceName);
        Assert.Equal(ServiceDiscoveryEndpointResolver.ResolverName, error.Resolver);
    }

    [Fact]
    public async Task A_provider_without_active_change_callbacks_is_polled_every_RefreshPeriod()
    {
        var time = new FakeTimeProvider();
        var registry = new FakeRegistry("catalog", activeCallbacks: false);
        registry.Set(_a.Address);
        var resolver = new ServiceDiscoveryEndpointResolver([registry],
            Microsoft.Extensions.Options.Options.Create(new ServiceDiscoveryOptions { RefreshPeriod = TimeSpan.FromSeconds(60) }), time);
        var observer = new AwaitingObserver();

        var first = observer.NextSnapshot();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);
        Assert.NotNull(watch);
        Assert.Equal([_a.Address], (await first.WaitAsync(TimeSpan.FromSeconds(10))).Select(e => e.Key));

        registry.Set(_b.Address); // no callback: only the timer finds it
        var second = observer.NextSnapshot(); // the poll timer was armed before the first snapshot was published
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal([_b.Address], (await second.WaitAsync(TimeSpan.FromSeconds(10))).Select(e => e.Key));
        Assert.Equal(2, registry.Populations);
    }

    [Fact]
    public async Task With_AddServiceDiscovery_a_misspelled_name_is_unknown_not_a_DNS_lookup()
    {
        using var provider = Build(services => services.AddServiceDiscovery(), baseAddress: "http://catalgo",
            configuration: new() { ["Services:catalog:http:0"] = _a.Address });

        var error = await Assert.ThrowsAsync<UnknownServiceException>(() => provider.Client().GetAsync(new Uri("/", UriKind.Relative)));

        Assert.Contains("catalgo", error.Message, StringComparison.Ordinal);
        Assert.Empty(provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services);
    }

    [Fact]
    public async Task With_AddServiceDiscovery_and_PassThroughUnknownHosts_an_unknown_host_goes_out_unchanged()
    {
        using var provider = Build(services => services.AddServiceDiscovery(), baseAddress: _a.Address,
            configuration: new() { ["Mesh:PassThroughUnknownHosts"] = "true" });

        Assert.Equal("a", await provider.Client().GetStringAsync(new Uri("/unchanged", UriKind.Relative)));
        Assert.Equal("/unchanged", Assert.Single(_a.Received).PathAndQuery);
    }

    [Fact]
    public async Task With_AddServiceDiscovery_configuration_is_resolved_once_by_the_mesh_configuration_resolver()
    {
        using var provider = Build(services => services.AddServiceDiscovery(),
            configuration: new() { ["Services:catalog:http:0"] = _a.Address });

        Assert.Equal("a", await provider.Client().GetStringAsync(new Uri("/", UriKind.Relative)));

        Assert.False(provider.GetRequiredService<ServiceDiscoveryEndpointResolver>().HasProviders);
        Assert.Equal("configuration", Assert.Single(provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot().Services).Resolver);
    }

    [Fact]
    public async Task Aspire_environment_variables_reach_the_backend_with_AddServiceDiscovery_and_https_plus_http()
    {
        // Aspire's AppHost passes references as services__<name>__<endpoint>__<i>; a unique name keeps tests apart.
        string name = "aspire" + Guid.NewGuid().ToString("N")[..8];
        string variable = $"services__{name}__http__0";
        Environment.SetEnvironmentVariable(variable, _b.Address);
        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddServiceDiscovery(); // as Aspire's ServiceDefaults does
            services.AddHttpClient("test", c => c.BaseAddress = new Uri($"https+http://{name}")).AddMeshHandler(); // was .AddServiceDiscovery()
            using var provider = services.BuildServiceProvider();

            Assert.Equal("b", await provider.Client().GetStringAsync(new Uri("/aspire", UriKind.Relative)));
            Assert.Equal("/aspire", Assert.Single(_b.Received).PathAndQuery);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task The_mesh_own_resolvers_are_asked_before_the_MESD_providers()
    {
        var registry = new FakeRegistry("catalog");
        registry.Set(_b.Address);
        using var provider = Build(services => services.AddSingleton<IServiceEndpointProviderFactory>(registry),
            configuration: new() { ["Services:catalog:http:0"] = _a.Address });

        Assert.Equal("a", await provider.Client().GetStringAsync(new Uri("/", UriKind.Relative)));
        Assert.Equal(0, registry.Populations);
    }

    private static ServiceProvider Build(Action<IServiceCollection> discovery, string baseAddress = "http://catalog",
        Dictionary<string, string?>? configuration = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(configuration ?? []).Build());
        discovery(services);
        services.AddMeshClient();
        services.AddHttpClient(MeshTestHost.ClientName, c => c.BaseAddress = new Uri(baseAddress)).AddMeshHandler();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>Waits until the diagnostics show the service routing to <paramref name="authority"/> only.</summary>
    private static async Task WaitForEndpointAsync(IServiceProvider provider, string authority)
    {
        var diagnostics = provider.GetRequiredService<IMeshDiagnostics>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (diagnostics.GetSnapshot().Services.Single().Endpoints is not [{ } only] || only.Address != authority)
        {
            await Task.Yield();
            deadline.Token.ThrowIfCancellationRequested();
        }
    }

    private static async Task WaitForErrorAsync(IServiceProvider provider, string text)
    {
        var diagnostics = provider.GetRequiredService<IMeshDiagnostics>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (diagnostics.GetSnapshot().Services.Single().LastError?.Contains(text, StringComparison.Ordinal) != true)
        {
            await Task.Yield();
            deadline.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// A registry as a custom MESD provider factory: it knows one service, says so with an empty result for any
    /// other, and signals a change through a <see cref="CancellationChangeToken"/> (or a token that cannot call back).
    /// </summary>
    private sealed class FakeRegistry(string service, bool activeCallbacks = true) : IServiceEndpointProviderFactory
    {
        private readonly string _service = service;
        private readonly bool _activeCallbacks = activeCallbacks;
        private readonly Lock _lock = new();
        private string[] _addresses = [];
        private Exception? _failure;
        private CancellationTokenSource _changed = new();
        private TaskCompletionSource _populated = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _populations;

        public int Populations => Volatile.Read(ref _populations);

        public bool TryCreateProvider(ServiceEndpointQuery query, out IServiceEndpointProvider provider)
        {
            provider = new Provider(this, query);
            return true;
        }

        public void Set(params string[] addresses) => Change(() => { _addresses = addresses; _failure = null; });

        public void Fail(Exception failure) => Change(() => _failure = failure);

        /// <summary>Completes after the next population ends (and its result has been handed back).</summary>
        public Task NextPopulation()
        {
            lock (_lock)
            {
                _populated = new(TaskCreationOptions.RunContinuationsAsynchronously);
                return _populated.Task;
            }
        }

        private void Change(Action change)
        {
            CancellationTokenSource fired;
            lock (_lock)
            {
                change();
                fired = _changed;
                _changed = new CancellationTokenSource();
            }

            fired.Cancel();
        }

        private sealed class Provider(FakeRegistry registry, ServiceEndpointQuery query) : IServiceEndpointProvider
        {
            public ValueTask PopulateAsync(IServiceEndpointBuilder endpoints, CancellationToken cancellationToken)
            {
                TaskCompletionSource? populated = null;
                try
                {
                    lock (registry._lock)
                    {
                        populated = registry._populated;
                        endpoints.AddChangeToken(registry._activeCallbacks ? new CancellationChangeToken(registry._changed.Token) : new NoCallbackToken());
                        if (registry._failure is { } failure)
                        {
                            throw failure;
                        }

                        if (string.Equals(query.ServiceName, registry._service, StringComparison.OrdinalIgnoreCase))
                        {
                            foreach (var address in registry._addresses)
                            {
                                endpoints.Endpoints.Add(ServiceEndpoint.Create(new UriEndPoint(new Uri(address))));
                            }
                        }
                    }
                }
                finally
                {
                    Interlocked.Increment(ref registry._populations);
                    populated?.TrySetResult();
                }

                return default;
            }

            public ValueTask DisposeAsync() => default;

            public override string ToString() => "fake registry";
        }
    }

    /// <summary>A change token that cannot call back (as a provider over a source that must be polled).</summary>
    private sealed class NoCallbackToken : IChangeToken
    {
        public bool HasChanged => false;

        public bool ActiveChangeCallbacks => false;

        public IDisposable RegisterChangeCallback(Action<object?> callback, object? state) => throw new InvalidOperationException("cannot call back");
    }

    /// <summary>An observer a test can await the next snapshot of.</summary>
    private sealed class AwaitingObserver : IEndpointObserver
    {
        private TaskCompletionSource<IReadOnlyList<EndpointAddress>> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<IReadOnlyList<EndpointAddress>> NextSnapshot()
        {
            var next = new TaskCompletionSource<IReadOnlyList<EndpointAddress>>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _next, next);
            return next.Task;
        }

        public void OnEndpoints(IReadOnlyList<EndpointAddress> endpoints) => Volatile.Read(ref _next).TrySetResult(endpoints);

        public void OnError(Exception exception) => Volatile.Read(ref _next).TrySetException(exception);
    }
}
