using System.Collections.Concurrent;
using System.Globalization;

namespace Mesh.Client.Kubernetes.Routes;

/// <summary>
/// The Service ports HTTPRoute backendRefs name, by mesh service name, for the Kubernetes resolver: a backend is a
/// mesh service, and a mesh service has one port per process, so the first port a backendRef names for a Service is the
/// one its watch uses. A port configured for it (<c>Mesh:Services:&lt;name&gt;:Port</c>) wins, and a backendRef that
/// disagrees with either is reported rather than silently sent elsewhere.
/// </summary>
internal sealed class BackendPorts(IDictionary<string, string> configured)
{
    private readonly ConcurrentDictionary<string, int> _ports = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The port a backendRef asked for <paramref name="meshService"/>, if any.</summary>
    public string? Get(string meshService) =>
        _ports.TryGetValue(meshService, out int port) ? port.ToString(CultureInfo.InvariantCulture) : null;

    /// <summary>Records that a backendRef sends <paramref name="meshService"/> to <paramref name="port"/>; returns why it cannot, or null.</summary>
    public string? Use(string meshService, string serviceName, int port)
    {
        string text = port.ToString(CultureInfo.InvariantCulture);
        if ((configured.TryGetValue(meshService, out var set) || configured.TryGetValue(serviceName, out set)) && set != text)
        {
            return $"port {text} is not used: the port configured for '{meshService}' ({set}) is";
        }

        int used = _ports.GetOrAdd(meshService, port);
        return used == port ? null : $"port {text} is not used: '{meshService}' already goes to port {used.ToString(CultureInfo.InvariantCulture)} (one port per Service and process; restart to change it)";
    }
}
