using System.Net;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Kubernetes.Tests.Integration;

/// <summary>
/// An HttpClient with AddMeshHandler whose endpoints come from the stand-in API server, pointing at real Kestrel
/// backends on 127.0.0.1. Each backend is a one-pod slice (backends listen on different ports, and a slice's
/// endpoints share its ports), which is also how a Service looks mid-rollout when its target port changes.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];
    private KubernetesTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await KubernetesTestCluster.StartAsync();
        _cluster.Api.AddService("default", "catalog");
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await TestBackend.StartAsync($"pod-{i}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    private void Scale(int replicas)
    {
        for (int i = 0; i < _backends.Count; i++)
        {
            if (i < replicas)
            {
                _cluster.Api.SetSlice("default", "catalog", $"catalog-{i}", [new FakeEndpoint("127.0.0.1", Pod: $"catalog-pod-{i}")], [("http", _backends[i].Port)]);
            }
            else
            {
                _cluster.Api.DeleteSlice("default", $"catalog-{i}");
            }
        }
    }

    private ServiceProvider Build(Action<KubernetesResolverOptions>? configure = null, string baseAddress = "http://catalog") =>
        MeshTestHost.Build(m => m.AddKubernetes(o =>
        {
            _cluster.Configure(o);
            configure?.Invoke(o);
        }), baseAddress: baseAddress);

    private static async Task<string> GetAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task Scaling_in_the_cluster_moves_traffic()
    {
        Scale(1);
        using var provider = Build();
        var client = provider.Client();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal("pod-0", await GetAsync(client));
        }

        Scale(3);
        var seen = new HashSet<string>();
        var deadline = DateTime.UtcNow + WatchRecorder.DefaultTimeout;
        while (seen.Count < 3 && DateTime.UtcNow < deadline)
        {
            seen.Add(await GetAsync(client));
        }

        Assert.Equal(["pod-0", "pod-1", "pod-2"], seen.Order(StringComparer.Ordinal));

        // Scale down to the third replica only: once the change lands, every request goes there.
        _cluster.Api.DeleteSlice("default", "catalog-0");
        _cluster.Api.DeleteSlice("default", "catalog-1");
        string last = string.Empty;
        deadline = DateTime.UtcNow + WatchRecorder.DefaultTimeout;
        int inARow = 0;
        while (inARow < 6 && DateTime.UtcNow < deadline)
        {
            last = await GetAsync(client);
            inARow = last == "pod-2" ? inARow + 1 : 0;
        }

        Assert.Equal(6, inARow);
    }

    [Fact]
    public async Task A_misspelled_service_fails_at_once_with_ServiceNotFoundException_naming_the_missing_service()
    {
        Scale(1);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalgo:ResolutionTimeout"] = "00:01:00",
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddKubernetes(_cluster.Configure), configuration, baseAddress: "http://catalgo");
        var client = provider.Client();

        // The API says 404 within milliseconds: the waiting request fails then, not after the one-minute resolution timeout.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var first = await Assert.ThrowsAsync<ServiceNotFoundException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");
        Assert.Equal("kubernetes", first.Resolver);
        Assert.Equal("catalgo", first.ServiceName);
        Assert.Contains("Kubernetes service 'catalgo' was not found in namespace 'default'", first.Message, StringComparison.Ordinal);

        var later = await Assert.ThrowsAsync<ServiceNotFoundException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        Assert.Contains("Kubernetes service 'catalgo' was not found in namespace 'default'", later.Message, StringComparison.Ordinal);
        var diagnostics = provider.GetRequiredService<Mesh.Client.Diagnostics.IMeshDiagnostics>();
        Assert.Contains(diagnostics.GetSnapshot().Services, s => s.LastError?.Contains("was not found", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Two_clients_of_one_kubernetes_service_share_the_watch_but_keep_their_own_endpoint_state()
    {
        Scale(2);
        var services = new ServiceCollection();
        services.AddMeshClient().AddKubernetes(_cluster.Configure);
        foreach (var name in new[] { "a", "b" })
        {
            services.AddHttpClient(name, c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        }

        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        for (int i = 0; i < 4; i++)
        {
            await GetAsync(factory.CreateClient("a"));
        }

        for (int i = 0; i < 2; i++)
        {
            await GetAsync(factory.CreateClient("b"));
        }

        await _cluster.Api.Changed.WaitUntilAsync(() => _cluster.Api.OpenWatches >= 1, "the watch");
        Assert.Equal(1, _cluster.Api.OpenWatches); // one watch feeds both clients
        var snapshot = provider.GetRequiredService<Mesh.Client.Diagnostics.IMeshDiagnostics>().GetSnapshot();
        var a = snapshot.Services.Single(s => s.ClientName == "a" && s.ServiceName == "catalog");
        var b = snapshot.Services.Single(s => s.ClientName == "b" && s.ServiceName == "catalog");
        Assert.Equal(a.Endpoints.Select(e => e.Key).Order(), b.Endpoints.Select(e => e.Key).Order());
        Assert.All(a.Endpoints, e => Assert.Equal(2, e.Requests)); // each client counts only its own attempts
        Assert.All(b.Endpoints, e => Assert.Equal(1, e.Requests));
    }

    [Fact]
    public async Task A_renamed_service_port_reaches_picks_without_a_relist_or_a_failed_request()
    {
        // One port, named http, used by default; the Service renames it to web (and the pods move to another port).
        _cluster.Api.SetSlice("default", "catalog", "catalog-0", [new FakeEndpoint("127.0.0.1")], [("http", _backends[0].Port)]);
        using var provider = Build();
        var client = provider.Client();
        Assert.Equal("pod-0", await GetAsync(client));
        await _cluster.Api.Changed.WaitUntilAsync(() => _cluster.Api.OpenWatches == 1, "the watch");
        int reads = _cluster.Api.ServiceReads;

        _cluster.Api.AddService("default", "catalog", [("web", 80)]);
        _cluster.Api.SetSlice("default", "catalog", "catalog-0", [new FakeEndpoint("127.0.0.1")], [("web", _backends[1].Port)]);

        // Every request succeeds (none meets an empty set), and traffic moves to the renamed port.
        var deadline = DateTime.UtcNow + WatchRecorder.DefaultTimeout;
        string served = "pod-0";
        while (served != "pod-1" && DateTime.UtcNow < deadline)
        {
            served = await GetAsync(client);
        }

        Assert.Equal("pod-1", served);
        Assert.Equal(reads + 1, _cluster.Api.ServiceReads);
        Assert.Equal(1, _cluster.Api.Lists);
    }

    [Fact]
    public async Task With_a_services_list_an_unlisted_name_fails_at_once_as_unknown()
    {
        Scale(1);
        using var provider = Build(o => o.Services.Add("catalog"), baseAddress: "http://inventory");
        var client = provider.Client();
        var ex = await Assert.ThrowsAsync<UnknownServiceException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        Assert.Contains("kubernetes", ex.ResolversAsked);
        Assert.Equal(0, _cluster.Api.ServiceReads);
    }

    [Fact]
    public async Task The_configuration_resolver_registered_first_keeps_its_services()
    {
        Scale(1);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Services:catalog:http:0"] = _backends[2].Address,
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddKubernetes(_cluster.Configure), configuration);
        Assert.Equal("pod-2", await GetAsync(provider.Client()));
        Assert.Equal(0, _cluster.Api.ServiceReads);
    }

    [Fact]
    public void Bad_options_fail_naming_the_key_and_the_value()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Port"] = "Not_A_Port",
            ["Mesh:Kubernetes:Namespace"] = "Shop",
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddKubernetes(), configuration);
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<KubernetesResolverOptions>>().Value);
        Assert.Contains("'Mesh:Services:catalog:Port' is 'Not_A_Port'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Kubernetes:Namespace' is 'Shop'", ex.Message, StringComparison.Ordinal);
    }
}
