namespace Mesh.Client;

/// <summary>What Host header (and, for https, TLS server name) a request carries once the mesh has picked an endpoint.</summary>
public enum HostHeaderPolicy
{
    /// <summary>The endpoint's own <c>host:port</c>: what a plain request to that address would carry. The default.</summary>
    Endpoint = 0,

    /// <summary>
    /// The logical name the caller used (<c>catalog</c>). For https the TLS server name (SNI) and certificate
    /// validation use it too, so a certificate issued for the service name validates whichever replica answers.
    /// </summary>
    LogicalName = 1,
}
