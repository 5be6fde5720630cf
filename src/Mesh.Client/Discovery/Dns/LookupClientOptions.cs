using System.Net;

namespace Mesh.Client.Discovery.Dns;

/// <summary>How <see cref="LookupClient"/> asks: which servers, how long it waits, how often it tries (DnsClient.NET's LookupClientOptions, reduced).</summary>
internal sealed class LookupClientOptions
{
    /// <summary>The default per-try timeout: 2 seconds.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Creates options that use <paramref name="nameServers"/>, or the system's (<c>/etc/resolv.conf</c>) when none is given.</summary>
    public LookupClientOptions(params IPEndPoint[] nameServers)
    {
        NameServers = nameServers;
    }

    /// <summary>The servers asked, in order; empty means the nameservers of <c>/etc/resolv.conf</c>.</summary>
    public IReadOnlyList<IPEndPoint> NameServers { get; }

    /// <summary>How long one try waits for one server's reply. Default: 2 seconds.</summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout;

    /// <summary>How many more rounds over every server follow a failed first round. Default: 1 (so each server is tried twice).</summary>
    public int Retries { get; set; } = 1;

    /// <summary>Whether a truncated UDP reply is asked again over TCP. Default: true.</summary>
    public bool UseTcpFallback { get; set; } = true;
}
