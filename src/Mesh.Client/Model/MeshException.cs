namespace Mesh.Client;

/// <summary>
/// The base of every error the mesh raises about a service, rather than about one endpoint's response. Derives from
/// <see cref="HttpRequestException"/> so code that handles failed requests handles these too.
/// </summary>
public class MeshException : HttpRequestException
{
    /// <summary>Creates the exception.</summary>
    public MeshException(string serviceName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ServiceName = serviceName;
    }

    /// <summary>The logical service the request was for.</summary>
    public string ServiceName { get; }
}

/// <summary>
/// No resolver knows the service. Raised at once, before any network traffic: a misspelled service name surfaces as
/// this exception, never as a lookup of a made-up host.
/// </summary>
public sealed class UnknownServiceException : MeshException
{
    /// <summary>Creates the exception.</summary>
    public UnknownServiceException(string serviceName, IReadOnlyList<string> resolversAsked)
        : base(serviceName, resolversAsked.Count == 0
            ? $"Unknown service '{serviceName}': no endpoint resolver is registered. Call AddMeshClient() and configure 'Services:{serviceName}' or add a resolver."
            : $"Unknown service '{serviceName}': none of the resolvers asked ({string.Join(", ", resolversAsked)}) knows it. Check the name, or configure it (for example 'Services:{serviceName}:http').")
    {
        ResolversAsked = resolversAsked;
    }

    /// <summary>The resolvers that were asked, in order.</summary>
    public IReadOnlyList<string> ResolversAsked { get; }
}

/// <summary>The service is known but has no endpoint to send to (its resolver published an empty set). Raised without waiting.</summary>
public sealed class NoEndpointsException : MeshException
{
    /// <summary>Creates the exception.</summary>
    public NoEndpointsException(string serviceName, string resolver, string? detail = null)
        : base(serviceName, $"Service '{serviceName}' has no endpoints (resolver '{resolver}'){(detail is null ? "." : ": " + detail)}")
    {
        Resolver = resolver;
    }

    /// <summary>The resolver that owns the service.</summary>
    public string Resolver { get; }
}

/// <summary>
/// The resolver that owns the name asked its source, and the source says the service does not exist (a Kubernetes
/// Service that is not there). Requests fail at once; the resolver keeps looking, so a service created later is found.
/// </summary>
public sealed class ServiceNotFoundException : MeshException
{
    /// <summary>Creates the exception. Resolvers report it with <c>IEndpointObserver.OnError</c>.</summary>
    /// <param name="serviceName">The logical service name.</param>
    /// <param name="resolver">The resolver that owns the name.</param>
    /// <param name="message">What the source said, naming where it looked (for example the namespace).</param>
    /// <param name="innerException">The source's own error, if any.</param>
    public ServiceNotFoundException(string serviceName, string resolver, string message, Exception? innerException = null)
        : base(serviceName, message, innerException)
    {
        Resolver = resolver;
    }

    /// <summary>The resolver that owns the service.</summary>
    public string Resolver { get; }
}

/// <summary>The service's first resolution did not complete within its timeout; the message carries the resolver's last error, if any.</summary>
public sealed class ResolutionTimeoutException : MeshException
{
    /// <summary>Creates the exception.</summary>
    public ResolutionTimeoutException(string serviceName, string resolver, TimeSpan timeout, Exception? lastError)
        : base(serviceName,
            $"Service '{serviceName}' was not resolved by resolver '{resolver}' within {timeout.TotalSeconds:0.###} s"
            + (lastError is null ? "." : $"; last error: {lastError.Message}"), lastError)
    {
        Resolver = resolver;
        Timeout = timeout;
    }

    /// <summary>The resolver that owns the service.</summary>
    public string Resolver { get; }

    /// <summary>How long the first request waited.</summary>
    public TimeSpan Timeout { get; }
}
