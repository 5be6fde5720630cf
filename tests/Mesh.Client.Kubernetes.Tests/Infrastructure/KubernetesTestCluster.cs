using System.Globalization;
using Mesh.Client.Kubernetes.Discovery;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>
/// The stand-in API server plus what kubelet mounts into a pod: a service-account directory (token, ca.crt,
/// namespace) and the KUBERNETES_SERVICE_HOST/PORT environment, handed to the resolver through its options.
/// </summary>
internal sealed class KubernetesTestCluster : IAsyncDisposable
{
    private KubernetesTestCluster(FakeKubernetesApiServer api, string serviceAccountPath)
    {
        Api = api;
        ServiceAccountPath = serviceAccountPath;
    }

    public FakeKubernetesApiServer Api { get; }

    public string ServiceAccountPath { get; }

    public string Namespace { get; private set; } = "default";

    public static async Task<KubernetesTestCluster> StartAsync(string token = "sa-token-one", string ns = "default")
    {
        var api = await FakeKubernetesApiServer.StartAsync();
        api.ValidTokens[token] = true;
        var path = Directory.CreateTempSubdirectory("mesh-k8s-sa-").FullName;
        await File.WriteAllTextAsync(Path.Combine(path, "ca.crt"), TestCertificates.Shared.CaPem);
        await File.WriteAllTextAsync(Path.Combine(path, "namespace"), ns);
        var cluster = new KubernetesTestCluster(api, path) { Namespace = ns };
        cluster.WriteToken(token);
        return cluster;
    }

    /// <summary>Replaces the token file the way kubelet does: write elsewhere, then rename over it.</summary>
    public void WriteToken(string token)
    {
        var temp = Path.Combine(ServiceAccountPath, $".token-{Guid.NewGuid():N}");
        File.WriteAllText(temp, token);
        File.Move(temp, Path.Combine(ServiceAccountPath, "token"), overwrite: true);
    }

    /// <summary>Points <paramref name="options"/> at this cluster as a pod would see it, with short reconnect delays.</summary>
    public void Configure(KubernetesResolverOptions options)
    {
        var port = Api.Port.ToString(CultureInfo.InvariantCulture);
        options.Credentials = KubernetesCredentialSource.InCluster;
        options.ServiceAccountPath = ServiceAccountPath;
        options.Environment = name => name switch
        {
            "KUBERNETES_SERVICE_HOST" => "127.0.0.1",
            "KUBERNETES_SERVICE_PORT" => port,
            _ => null,
        };
        options.ReconnectDelay = TimeSpan.FromMilliseconds(20);
        options.MaxReconnectDelay = TimeSpan.FromMilliseconds(200);
    }

    public KubernetesEndpointResolver CreateResolver(Action<KubernetesResolverOptions>? configure = null, ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null)
    {
        var options = new KubernetesResolverOptions();
        Configure(options);
        configure?.Invoke(options);
        Assert.Empty(options.Validate());
        return new KubernetesEndpointResolver(Microsoft.Extensions.Options.Options.Create(options), timeProvider ?? TimeProvider.System, loggerFactory);
    }

    public async ValueTask DisposeAsync()
    {
        await Api.DisposeAsync();
        try
        {
            Directory.Delete(ServiceAccountPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
