namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// A Kubernetes Service as a client names it, in the forms cluster DNS answers to: <c>catalog</c> (the default
/// namespace), <c>catalog.shop</c>, <c>catalog.shop.svc</c> and <c>catalog.shop.svc.cluster.local</c>.
/// </summary>
internal readonly record struct KubernetesServiceName(string Name, string Namespace)
{
    /// <summary>
    /// Parses <paramref name="host"/>; false when it is not one of the forms, or a label is not a valid name (so
    /// <c>localhost</c>, IP addresses and outside host names such as <c>api.example.com</c> are not taken).
    /// </summary>
    public static bool TryParse(string host, string clusterDomain, string defaultNamespace, out KubernetesServiceName name)
    {
        name = default;
        if (string.IsNullOrEmpty(host) || host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var labels = host.ToLowerInvariant().Split('.');
        string service = labels[0];
        string ns;
        switch (labels.Length)
        {
            case 1:
                ns = defaultNamespace;
                break;
            case 2:
                ns = labels[1];
                break;
            case 3 when labels[2] == "svc":
                ns = labels[1];
                break;
            default:
                if (labels.Length < 4 || labels[2] != "svc"
                    || !string.Equals(string.Join('.', labels, 3, labels.Length - 3), clusterDomain.TrimEnd('.'), StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                ns = labels[1];
                break;
        }

        // Service names are RFC 1035 labels (they start with a letter); namespaces are RFC 1123 labels.
        if (!IsDnsLabel(service) || !char.IsAsciiLetterLower(service[0]) || !IsDnsLabel(ns))
        {
            return false;
        }

        name = new KubernetesServiceName(service, ns);
        return true;
    }

    /// <summary>An RFC 1123 label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit.</summary>
    public static bool IsDnsLabel(string value)
    {
        if (value.Length is 0 or > 63 || value[0] == '-' || value[^1] == '-')
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The label selector of the service's EndpointSlices.</summary>
    public string LabelSelector => "kubernetes.io/service-name=" + Name;

    /// <inheritdoc />
    public override string ToString() => $"{Name}.{Namespace}";
}
