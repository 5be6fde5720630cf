using System.Text;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Kubernetes.Tests.Infrastructure;

namespace Mesh.Client.Kubernetes.Tests.Api;

/// <summary>Running outside a cluster: credentials from a kubeconfig file, against the stand-in API server.</summary>
public sealed class KubeConfigTests : IAsyncLifetime
{
    private FakeKubernetesApiServer _api = null!;
    private string _directory = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApiServer.StartAsync();
        _api.AddService("shop", "catalog");
        _api.SetSlice("shop", "catalog", "catalog-abc", [new FakeEndpoint("10.0.0.1")]);
        _directory = Directory.CreateTempSubdirectory("mesh-k8s-kubeconfig-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private string Write(string user, string? extraContext = null)
    {
        var path = Path.Combine(_directory, "config");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: kind-dev
              cluster:
                server: {_api.Address}
                certificate-authority-data: {B64(TestCertificates.Shared.CaPem)}
            contexts:
            - name: dev
              context:
                cluster: kind-dev
                user: dev-user
                namespace: shop
            {extraContext}
            users:
            - name: dev-user
              user:
            {user}
            """);
        return path;
    }

    private KubernetesEndpointResolver Resolver(string path) =>
        new(Microsoft.Extensions.Options.Options.Create(new KubernetesResolverOptions
        {
            Environment = _ => null,
            ServiceAccountPath = Path.Combine(_directory, "no-service-account"),
            KubeConfigPath = path,
        }), TimeProvider.System);

    [Fact]
    public async Task A_token_user_and_CA_data_resolve_in_the_context_namespace()
    {
        _api.ValidTokens["kubeconfig-token"] = true;
        using var resolver = Resolver(Write("    token: kubeconfig-token"));
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);
        Assert.NotNull(watch);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        Assert.Contains("kubeconfig-token", _api.TokensSeen);
    }

    [Fact]
    public async Task A_client_certificate_user_authenticates_with_the_certificate()
    {
        var certs = TestCertificates.Shared;
        using var resolver = Resolver(Write($"    client-certificate-data: {B64(certs.ClientCertificatePem)}\n    client-key-data: {B64(certs.ClientKeyPem)}"));
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog.shop", ["http"]), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        Assert.Contains("CN=mesh-test-user", _api.ClientCertificatesSeen);
    }

    [Fact]
    public void An_exec_plugin_user_is_refused_with_a_clear_message_and_no_name_is_claimed()
    {
        var path = Write("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws");
        var ex = Assert.Throws<InvalidOperationException>(() => KubernetesClientConfiguration.BuildConfigFromConfigFile(path));
        Assert.Contains("exec plugin", ex.Message, StringComparison.Ordinal);
        using var resolver = Resolver(path);
        Assert.Null(resolver.Watch(new EndpointQuery("catalog", ["http"]), new WatchRecorder()));
    }

    [Fact]
    public void A_missing_context_is_named()
    {
        var path = Write("    token: t");
        var ex = Assert.Throws<InvalidOperationException>(() => KubernetesClientConfiguration.BuildConfigFromConfigFile(path, "prod"));
        Assert.Contains("has no context 'prod'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_key_material_is_named_but_never_quoted()
    {
        const string secret = "c2VjcmV0LWtleS1tYXRlcmlhbA===!";
        var ex = Assert.Throws<InvalidOperationException>(() => KubernetesClientConfiguration.BuildConfigFromConfigFile(
            Write($"    client-certificate-data: {B64(TestCertificates.Shared.ClientCertificatePem)}\n    client-key-data: {secret}")));
        Assert.Contains("client-key-data", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, ex.Message, StringComparison.Ordinal);
    }
}
