using System.Globalization;
using k8s.Models;

namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// Which of a slice's ports a client talks to, resolved once against the Service: by the port's name (what slices
/// carry for every Service port), by a target port number, or, with no Service spec, each slice's first port.
/// </summary>
internal readonly record struct PortSelection(PortSelection.MatchKind Kind, string? Name, int Number)
{
    public enum MatchKind
    {
        FirstPort,
        ByName,
        ByNumber,
    }

    /// <summary>
    /// Resolves <paramref name="selector"/> (a port name, a number, or null for the Service's only or first port)
    /// against <paramref name="service"/>. A number matches a Service port first, then a pod (target) port.
    /// </summary>
    /// <returns>The selection, or null with <paramref name="error"/> naming the Service's ports.</returns>
    public static PortSelection? Resolve(V1Service? service, KubernetesServiceName name, string? selector, out string? error)
    {
        error = null;
        var ports = service?.Spec?.Ports;
        if (selector is null)
        {
            return ports is { Count: > 0 } ? new PortSelection(MatchKind.ByName, ports[0].Name ?? string.Empty, 0) : new PortSelection(MatchKind.FirstPort, null, 0);
        }

        if (int.TryParse(selector, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
        {
            if (ports is not null)
            {
                foreach (var port in ports)
                {
                    if (port.Port == number)
                    {
                        return new PortSelection(MatchKind.ByName, port.Name ?? string.Empty, 0);
                    }
                }
            }

            return new PortSelection(MatchKind.ByNumber, null, number);
        }

        if (ports is { Count: > 0 })
        {
            foreach (var port in ports)
            {
                if (string.Equals(port.Name, selector, StringComparison.Ordinal))
                {
                    return new PortSelection(MatchKind.ByName, selector, 0);
                }
            }

            var names = new List<string>(ports.Count);
            foreach (var port in ports)
            {
                names.Add(string.IsNullOrEmpty(port.Name) ? $"(unnamed) {port.Port}" : $"{port.Name} {port.Port}");
            }

            error = $"Kubernetes service '{name.Name}' in namespace '{name.Namespace}' has no port named '{selector}'; its ports: {string.Join(", ", names)}.";
            return null;
        }

        return new PortSelection(MatchKind.ByName, selector, 0);
    }

    /// <summary>The slice port this selection means, or null when the slice does not carry it (or it is not TCP).</summary>
    public Discoveryv1EndpointPort? Match(IList<Discoveryv1EndpointPort>? ports)
    {
        if (ports is null)
        {
            return null;
        }

        foreach (var port in ports)
        {
            if (port.Port is not (>= 1 and <= 65535) || (port.Protocol is { } protocol && protocol != "TCP"))
            {
                continue;
            }

            bool match = Kind switch
            {
                MatchKind.FirstPort => true,
                MatchKind.ByName => string.Equals(port.Name ?? string.Empty, Name, StringComparison.Ordinal),
                _ => port.Port == Number,
            };
            if (match)
            {
                return port;
            }
        }

        return null;
    }

    /// <summary>
    /// The scheme to call a port with, given the schemes the client accepts in order of preference: with both,
    /// https when the port says so (appProtocol or name <c>https</c>, or 443); otherwise the client's first choice.
    /// </summary>
    public static string SchemeFor(Discoveryv1EndpointPort port, IReadOnlyList<string> schemes)
    {
        bool acceptsHttp = false;
        bool acceptsHttps = false;
        string? first = null;
        foreach (var scheme in schemes)
        {
            if (scheme is "http" or "https")
            {
                first ??= scheme;
                acceptsHttp |= scheme == "http";
                acceptsHttps |= scheme == "https";
            }
        }

        if (acceptsHttp && acceptsHttps)
        {
            bool portIsTls = string.Equals(port.AppProtocol, "https", StringComparison.OrdinalIgnoreCase)
                || string.Equals(port.Name, "https", StringComparison.Ordinal)
                || (port.Name?.StartsWith("https-", StringComparison.Ordinal) ?? false)
                || port.Port == 443;
            return portIsTls ? "https" : "http";
        }

        return first ?? "http";
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        MatchKind.FirstPort => "first port",
        MatchKind.ByName => $"port '{Name}'",
        _ => $"port {Number}",
    };
}
