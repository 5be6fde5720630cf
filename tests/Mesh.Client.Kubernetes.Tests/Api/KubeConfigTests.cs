using System.Text;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Kubernetes.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Client.Kubernetes.Tests.Api;

/// <summary>Running outside a cluster: credentials from kubeconfig files (read by KubernetesClient), against the stand-in API server.</summary>
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

    private string Write(string user, string file = "config")
    {
        var path = Path.Combine(_directory, file);
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
            users:
            - name: dev-user
              user:
            {user}
            """);
        return path;
    }

    private KubernetesEndpointResolver Resolver(string? path, Func<string, string?>? environment = null, FakeLogCollector? logs = null) =>
        new(Microsoft.Extensions.Options.Options.Create(new KubernetesResolverOptions
        {
            Environment = environment ?? (_ => null),
            ServiceAccountPath = Path.Combine(_directory, "no-service-account"),
            KubeConfigPath = path,
        }), TimeProvider.System, logs?.ToLoggerFactory());

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
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the plugin is a shell script
    public async Task An_exec_plugin_user_runs_the_plugin_and_sends_the_token_it_prints()
    {
        // The plugin is a small shell script printing an ExecCredential, as aws/gke-gcloud-auth-plugin/kubelogin do.
        const string token = "exec-plugin-token-5d1e";
        var plugin = Path.Combine(_directory, "credential-plugin.sh");
        File.WriteAllText(plugin, $$$"""
            #!/bin/sh
            echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"{{{token}}}"}}'
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        File.SetUnixFileMode(plugin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _api.ValidTokens[token] = true;

        using var resolver = Resolver(Write($"    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {plugin}"));
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);
        Assert.NotNull(watch);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        Assert.Contains(token, _api.TokensSeen);
        Assert.DoesNotContain(_api.TokensSeen, t => t is not null && t != token);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the plugin is a shell script
    public async Task A_rejected_exec_plugin_credential_runs_the_plugin_again()
    {
        // Each run of this plugin prints a new token: exec-token-1, exec-token-2, ...
        var counter = Path.Combine(_directory, "runs");
        var plugin = Path.Combine(_directory, "counting-plugin.sh");
        File.WriteAllText(plugin, $$$"""
            #!/bin/sh
            n=$(cat '{{{counter}}}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{{{counter}}}'
            echo "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-token-$n\"}}"
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        File.SetUnixFileMode(plugin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        for (int i = 1; i <= 3; i++)
        {
            _api.ValidTokens[$"exec-token-{i}"] = true;
        }

        using var resolver = Resolver(Write($"    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {plugin}"));
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        await _api.Changed.WaitUntilAsync(() => _api.OpenWatches == 1, "the watch");

        // The API server stops accepting the token the plugin gave (revoked): the next run's token is the only one valid.
        int runs = int.Parse(File.ReadAllText(counter).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        string next = $"exec-token-{runs + 1}";
        _api.ValidTokens.Clear();
        _api.ValidTokens[next] = true;
        _api.CloseWatches();
        await observer.WaitForErrorAsync(e => e.Message.Contains("401", StringComparison.Ordinal), "a 401");
        _api.SetSlice("shop", "catalog", "catalog-abc", [new FakeEndpoint("10.0.0.2")]);
        await observer.WaitForAuthoritiesAsync("10.0.0.2:8080");
        Assert.Contains(next, _api.TokensSeen);
    }

    [Fact]
    public async Task A_tokenFile_user_reads_the_file_relative_to_the_kubeconfig_on_every_request()
    {
        // KubernetesClient does not read tokenFile; the resolver does, and re-reads it, so a rotated file is followed.
        File.WriteAllText(Path.Combine(_directory, "token.txt"), "file-token-one\n");
        _api.ValidTokens["file-token-one"] = true;
        using var resolver = Resolver(Write("    tokenFile: token.txt"));
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);
        Assert.NotNull(watch);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        Assert.Contains("file-token-one", _api.TokensSeen);

        File.WriteAllText(Path.Combine(_directory, "token.txt"), "file-token-two");
        _api.ValidTokens.Clear();
        _api.ValidTokens["file-token-two"] = true;
        await _api.Changed.WaitUntilAsync(() => _api.OpenWatches == 1, "the watch");
        _api.CloseWatches();
        _api.SetSlice("shop", "catalog", "catalog-abc", [new FakeEndpoint("10.0.0.2")]);
        await observer.WaitForAuthoritiesAsync("10.0.0.2:8080");
        Assert.Contains("file-token-two", _api.TokensSeen);
    }

    [Fact]
    public async Task KUBECONFIG_files_are_merged_as_kubectl_merges_them()
    {
        // The first file has the cluster and context (and a user of the same name that must win); the second adds a user.
        _api.ValidTokens["first-file-token"] = true;
        var first = Write("    token: first-file-token", "first");
        var second = Path.Combine(_directory, "second");
        File.WriteAllText(second, """
            apiVersion: v1
            kind: Config
            current-context: elsewhere
            clusters: []
            contexts: []
            users:
            - name: dev-user
              user:
                token: second-file-token
            """);
        var missing = Path.Combine(_directory, "missing");
        using var resolver = Resolver(null, name => name == "KUBECONFIG" ? string.Join(Path.PathSeparator, missing, first, second) : null);
        var observer = new WatchRecorder();
        using var watch = resolver.Watch(new EndpointQuery("catalog", ["http"]), observer);
        Assert.NotNull(watch);
        await observer.WaitForAuthoritiesAsync("10.0.0.1:8080");
        Assert.Contains("first-file-token", _api.TokensSeen);
        Assert.DoesNotContain("second-file-token", _api.TokensSeen);
    }

    [Fact]
    public void A_missing_context_is_named()
    {
        var path = Write("    token: t");
        var ex = Assert.Throws<InvalidOperationException>(() => KubernetesCredentials.FromKubeConfig([path], "prod"));
        Assert.Contains("has no context 'prod'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_key_material_claims_nothing_and_is_never_quoted()
    {
        const string secret = "c2VjcmV0LWtleS1tYXRlcmlhbA===!";
        var logs = new FakeLogCollector();
        using var resolver = Resolver(Write($"    client-certificate-data: {B64(TestCertificates.Shared.ClientCertificatePem)}\n    client-key-data: {secret}"), logs: logs);
        Assert.Null(resolver.Watch(new EndpointQuery("catalog", ["http"]), new WatchRecorder()));
        Assert.Equal(1, logs.CountOf(202));
        Assert.DoesNotContain(secret, logs.AllText(), StringComparison.Ordinal);
    }
}
