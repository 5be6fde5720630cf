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
    public async Task A_misspelled_service_fails_its_first_request_with_the_not_found_message()
    {
        Scale(1);
        using var provider = Build(baseAddress: "http://catalgo");
        var client = provider.Client();
        var ex = await Assert.ThrowsAsync<ResolutionTimeoutException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        Assert.Contains("Kubernetes service 'catalgo' was not found in namespace 'default'", ex.Message, StringComparison.Ordinal);
        Assert.Equal("kubernetes", ex.Resolver);
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
