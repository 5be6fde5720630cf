using System.Globalization;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;

namespace Mesh.Client.Kubernetes;

/// <summary>How the resolver finds the API server.</summary>
public enum KubernetesCredentialSource
{
    /// <summary>The pod's service account when running in a pod, else a kubeconfig file if one exists, else none (the resolver claims no name).</summary>
    Auto,

    /// <summary>The pod's service account only.</summary>
    InCluster,

    /// <summary>A kubeconfig file only (<see cref="KubernetesResolverOptions.KubeConfigPath"/>, <c>KUBECONFIG</c> or <c>~/.kube/config</c>).</summary>
    KubeConfig,
}

/// <summary>
/// Options of the Kubernetes resolver, bound from configuration <c>Mesh:Kubernetes</c> (ports also from
/// <c>Mesh:Services:&lt;service&gt;:Port</c>), then from the delegate given to <c>AddKubernetes</c>.
/// </summary>
public sealed class KubernetesResolverOptions
{
    /// <summary>The configuration section these options bind from: <c>Mesh:Kubernetes</c>.</summary>
    public const string SectionName = "Mesh:Kubernetes";

    /// <summary>The environment variable <see cref="Zone"/> defaults to: <c>MESH_ZONE</c>.</summary>
    public const string ZoneEnvironmentVariable = "MESH_ZONE";

    /// <summary>
    /// The services this resolver may claim, by the names clients use (<c>catalog</c>, <c>catalog.shop</c>, ...). Empty
    /// (the default): any name of the Kubernetes forms is claimed (<c>catalog</c>, <c>catalog.ns</c>,
    /// <c>catalog.ns.svc</c>, <c>catalog.ns.svc.cluster.local</c>) once credentials are available, and a name whose
    /// Service does not exist fails its first request at once with <c>NoEndpointsException</c> (the resolver reports
    /// "Kubernetes service 'x' was not found in namespace 'y'"). Non-empty: only these names are claimed, with or without
    /// credentials, so any other name fails at once with <c>UnknownServiceException</c>, and a client can also call
    /// hosts outside the cluster (with <c>PassThroughUnknownHosts</c>).
    /// </summary>
    public IList<string> Services { get; } = [];

    /// <summary>
    /// The port to use per service, by name (<c>http</c>, <c>grpc</c>) or number, keyed by the name clients use. A
    /// number may be the Service's port or the pods' target port. Also read from <c>Mesh:Services:&lt;service&gt;:Port</c>;
    /// a request URI that names an endpoint (<c>http://_grpc.catalog</c>) selects the port of that name instead. Default:
    /// the Service's only, or first, port.
    /// </summary>
    public IDictionary<string, string> Ports { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The namespace of unqualified names (<c>catalog</c>). Default: the pod's namespace, else the kubeconfig context's, else <c>default</c>.</summary>
    public string? Namespace { get; set; }

    /// <summary>The cluster's DNS domain, for names such as <c>catalog.ns.svc.cluster.local</c>. Default: <c>cluster.local</c>.</summary>
    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>
    /// The zone this process runs in, for topology-aware routing: when set, endpoints whose topology hints
    /// (<c>hints.forZones</c>) name this zone are preferred. Default: the environment variable <c>MESH_ZONE</c>, else
    /// none (hints ignored).
    /// </summary>
    public string? Zone { get; set; }

    /// <summary>
    /// Topology hints are followed only when at least this many endpoints are hinted for our zone; otherwise every
    /// endpoint is used. Default: 1 (Kubernetes already gives every zone a share proportional to its capacity).
    /// </summary>
    public int MinimumZoneEndpoints { get; set; } = 1;

    /// <summary>Where credentials come from. Default: <see cref="KubernetesCredentialSource.Auto"/>.</summary>
    public KubernetesCredentialSource Credentials { get; set; } = KubernetesCredentialSource.Auto;

    /// <summary>The mounted service-account directory (token, ca.crt, namespace). Default: <c>/var/run/secrets/kubernetes.io/serviceaccount</c>.</summary>
    public string ServiceAccountPath { get; set; } = KubernetesCredentials.DefaultServiceAccountPath;

    /// <summary>
    /// The kubeconfig file used outside a cluster. Default: the files of <c>KUBECONFIG</c>, merged as kubectl merges them,
    /// else <c>~/.kube/config</c>.
    /// </summary>
    public string? KubeConfigPath { get; set; }

    /// <summary>The kubeconfig context to use. Default: the file's current context.</summary>
    public string? KubeConfigContext { get; set; }

    /// <summary>The first reconnect delay after a failure; it doubles per consecutive failure, with jitter. Default: 1 second.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest reconnect delay. Default: 30 seconds.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a read or list may take. Default: 30 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the server keeps one watch open before closing it (each watch asks for a random length between this and
    /// twice this, as client-go does, so watches do not reconnect in step). Default: 5 minutes.
    /// </summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A watch that sends nothing for this long, not even a bookmark (the API server sends one about every minute), is
    /// abandoned and opened again from where it stopped: a silently dead connection is noticed. Default: 90 seconds.
    /// </summary>
    public TimeSpan WatchIdleTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Follow Gateway API HTTPRoutes (<c>gateway.networking.k8s.io/v1</c>) attached to a Service (GAMMA: a parentRef of
    /// kind Service) as that Service's routes: weighted backends, matches, timeouts and retries, as Linkerd does. The
    /// ServiceAccount then needs <c>get</c>, <c>list</c> and <c>watch</c> on <c>httproutes</c>; a cluster without the
    /// HTTPRoute CRD simply has no routes. Routes in configuration take precedence. Default: <see langword="true"/>.
    /// </summary>
    public bool HttpRoutes { get; set; } = true;

    /// <summary>How many EndpointSlices one list page asks for (<c>limit</c>); the rest follow with <c>continue</c>. Tests lower it.</summary>
    internal int ListPageSize { get; set; } = 500;

    /// <summary>Reads environment variables; tests replace it.</summary>
    internal Func<string, string?> Environment { get; set; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Checks every value; returns one message per bad value, naming the key under <paramref name="keyPrefix"/> and quoting the value.</summary>
    public IReadOnlyList<string> Validate(string keyPrefix = SectionName)
    {
        var errors = new List<string>();
        for (int i = 0; i < Services.Count; i++)
        {
            if (!KubernetesServiceName.TryParse(Services[i], ClusterDomain ?? "cluster.local", "default", out _))
            {
                errors.Add(Bad($"{keyPrefix}:Services:{i}", Services[i],
                    "a Kubernetes service name: 'name', 'name.namespace', 'name.namespace.svc' or 'name.namespace.svc.<cluster domain>'"));
            }
        }

        foreach (var (service, port) in Ports)
        {
            if (!IsValidPort(port))
            {
                errors.Add(Bad($"Mesh:Services:{service}:Port", port, "a port number (1-65535) or a port name (lower-case letters, digits and '-', at most 63)"));
            }
        }

        if (Namespace is not null && !KubernetesServiceName.IsDnsLabel(Namespace))
        {
            errors.Add(Bad($"{keyPrefix}:Namespace", Namespace, "a namespace name (lower-case letters, digits and '-', at most 63)"));
        }

        if (string.IsNullOrWhiteSpace(ClusterDomain) || ClusterDomain.StartsWith('.') || ClusterDomain.EndsWith('.'))
        {
            errors.Add(Bad($"{keyPrefix}:ClusterDomain", ClusterDomain, "a DNS domain such as cluster.local"));
        }

        if (MinimumZoneEndpoints < 1)
        {
            errors.Add(Bad($"{keyPrefix}:MinimumZoneEndpoints", MinimumZoneEndpoints, "at least 1"));
        }

        if (!Enum.IsDefined(Credentials))
        {
            errors.Add(Bad($"{keyPrefix}:Credentials", Credentials, $"one of {string.Join(", ", Enum.GetNames<KubernetesCredentialSource>())}"));
        }

        if (ReconnectDelay <= TimeSpan.Zero || ReconnectDelay > TimeSpan.FromMinutes(5))
        {
            errors.Add(Bad($"{keyPrefix}:ReconnectDelay", ReconnectDelay, "greater than 0 and at most 00:05:00"));
        }

        if (MaxReconnectDelay < ReconnectDelay || MaxReconnectDelay > TimeSpan.FromHours(1))
        {
            errors.Add(Bad($"{keyPrefix}:MaxReconnectDelay", MaxReconnectDelay, $"at least ReconnectDelay ({ReconnectDelay}) and at most 01:00:00"));
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add(Bad($"{keyPrefix}:RequestTimeout", RequestTimeout, "greater than 0"));
        }

        if (WatchTimeout < TimeSpan.FromSeconds(1) || WatchTimeout > TimeSpan.FromHours(1))
        {
            errors.Add(Bad($"{keyPrefix}:WatchTimeout", WatchTimeout, "between 00:00:01 and 01:00:00"));
        }

        if (WatchIdleTimeout < TimeSpan.FromSeconds(1) || WatchIdleTimeout > TimeSpan.FromHours(1))
        {
            errors.Add(Bad($"{keyPrefix}:WatchIdleTimeout", WatchIdleTimeout, "between 00:00:01 and 01:00:00"));
        }

        return errors;
    }

    internal static bool IsValidPort(string? port) =>
        !string.IsNullOrEmpty(port)
        && (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number) ? number is >= 1 and <= 65535 : KubernetesServiceName.IsDnsLabel(port));

    private static string Bad(string key, object? value, string expected) => $"'{key}' is '{value}'; expected {expected}.";
}
