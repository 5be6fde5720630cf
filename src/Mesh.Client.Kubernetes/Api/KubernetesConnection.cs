using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Kubernetes.Routes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// The API server connection and the name rules shared by the endpoint resolver and the HTTPRoute source, so both
/// claim the same names, use the same credentials and share one client (one HTTP/2 connection) rather than dialling twice.
/// Credentials are read on first use, not at construction.
/// </summary>
internal sealed class KubernetesConnection : IDisposable
{
    private readonly KubernetesResolverOptions _options;
    private readonly ILogger _logger;
    private readonly Lazy<State> _state;

    public KubernetesConnection(IOptions<KubernetesResolverOptions> options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Client.Kubernetes");
        _state = new Lazy<State>(Connect, LazyThreadSafetyMode.ExecutionAndPublication);
        BackendPorts = new BackendPorts(_options.Ports);
    }

    /// <summary>The API client, or null when no credentials can be used (<see cref="Reason"/> says why).</summary>
    public KubernetesApi? Api => _state.Value.Api;

    /// <summary>The namespace of unqualified names.</summary>
    public string Namespace => _state.Value.Namespace;

    /// <summary>Why there is no <see cref="Api"/>.</summary>
    public string? Reason => _state.Value.Reason;

    /// <summary>The ports HTTPRoute backendRefs ask for, by mesh service name.</summary>
    public BackendPorts BackendPorts { get; }

    /// <summary>
    /// Whether <paramref name="host"/> is a name the Kubernetes resolver claims (its form, and the <c>Services</c> list
    /// when one is set), credentials aside; <paramref name="listed"/> says whether a list decided it.
    /// </summary>
    public bool TryClaim(string host, out KubernetesServiceName name, out bool listed)
    {
        name = default;
        listed = _options.Services.Count > 0;
        if (!KubernetesServiceName.TryParse(host, _options.ClusterDomain, "default", out _))
        {
            return false; // not a Kubernetes form: decided without reading credentials
        }

        string ns = Namespace;
        return KubernetesServiceName.TryParse(host, _options.ClusterDomain, ns, out name) && (!listed || IsListed(name, ns));
    }

    private bool IsListed(KubernetesServiceName name, string defaultNamespace)
    {
        foreach (var entry in _options.Services)
        {
            if (KubernetesServiceName.TryParse(entry, _options.ClusterDomain, defaultNamespace, out var listed) && listed == name)
            {
                return true;
            }
        }

        return false;
    }

    private State Connect()
    {
        var environment = _options.Environment;
        string fallbackNamespace = _options.Namespace ?? "default";
        bool inCluster = KubernetesCredentials.IsInCluster(environment, _options.ServiceAccountPath);
        IReadOnlyList<string> kubeConfigs = _options.KubeConfigPath is { } explicitPath
            ? [explicitPath]
            : [.. KubernetesCredentials.DefaultKubeConfigPaths(environment).Where(File.Exists)];
        bool useInCluster = _options.Credentials == KubernetesCredentialSource.InCluster
            || (_options.Credentials == KubernetesCredentialSource.Auto && inCluster);
        bool useKubeConfig = !useInCluster && _options.Credentials != KubernetesCredentialSource.InCluster
            && kubeConfigs.Count > 0 && kubeConfigs.All(File.Exists);
        if (!useInCluster && !useKubeConfig)
        {
            string reason = _options.Credentials == KubernetesCredentialSource.KubeConfig
                ? $"the kubeconfig file '{_options.KubeConfigPath ?? "~/.kube/config"}' does not exist."
                : $"not running in a pod (KUBERNETES_SERVICE_HOST unset or no token in '{_options.ServiceAccountPath}') and no kubeconfig file found.";
            KubernetesLog.NoCredentials(_logger, reason);
            return new State(null, fallbackNamespace, reason);
        }

        try
        {
            var configuration = useInCluster
                ? KubernetesCredentials.InCluster(environment, _options.ServiceAccountPath)
                : KubernetesCredentials.FromKubeConfig(kubeConfigs, _options.KubeConfigContext);
            configuration.FirstMessageHandlerSetup = static handler =>
            {
                handler.ConnectTimeout = TimeSpan.FromSeconds(10);
                handler.PooledConnectionLifetime = TimeSpan.FromMinutes(10);
            };
            string source = useInCluster
                ? $"in-cluster service account ({_options.ServiceAccountPath})"
                : $"kubeconfig '{string.Join(Path.PathSeparator, kubeConfigs)}' context '{_options.KubeConfigContext ?? configuration.CurrentContext}'";
            string ns = _options.Namespace ?? (string.IsNullOrWhiteSpace(configuration.Namespace) ? null : configuration.Namespace.Trim()) ?? "default";
            var api = new KubernetesApi(configuration, source);
            KubernetesLog.Connected(_logger, api.Host, source, ns);
            return new State(api, ns, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A kubeconfig that cannot be used (a missing file, bad key material, a failing exec plugin, an
            // auth-provider KubernetesClient does not run): claim nothing, say why.
            KubernetesLog.UnusableCredentials(_logger, ex.Message);
            return new State(null, fallbackNamespace, ex.Message);
        }
    }

    public void Dispose()
    {
        if (_state.IsValueCreated)
        {
            _state.Value.Api?.Dispose();
        }
    }

    private sealed record State(KubernetesApi? Api, string Namespace, string? Reason);
}
