using System.Net;

namespace Mesh.Client.Discovery.Dns;

/// <summary>The record types the mesh asks for (RFC 1035, RFC 3596, RFC 2782). Values are the wire codes.</summary>
internal enum QueryType : ushort
{
    /// <summary>An IPv4 address.</summary>
    A = 1,

    /// <summary>A canonical name (alias); followed by the resolver, not asked for.</summary>
    CNAME = 5,

    /// <summary>An IPv6 address.</summary>
    AAAA = 28,

    /// <summary>A service location: priority, weight, port and target host.</summary>
    SRV = 33,
}

/// <summary>A response code from the header (RFC 1035 §4.1.1), and the codes this client reports itself.</summary>
internal enum DnsResponseCode
{
    /// <summary>No error.</summary>
    NoError = 0,

    /// <summary>The server could not interpret the query.</summary>
    FormatError = 1,

    /// <summary>The server failed to process the query.</summary>
    ServerFailure = 2,

    /// <summary>The name does not exist.</summary>
    NotExistentDomain = 3,

    /// <summary>The server does not support this kind of query.</summary>
    NotImplemented = 4,

    /// <summary>The server refused to answer.</summary>
    Refused = 5,

    /// <summary>Not a server's code: the reply broke the protocol (this client's own code, as DnsClient.NET's 9998).</summary>
    MalformedResponse = 9998,

    /// <summary>Not a server's code: no server answered in time (DnsClient.NET's 9999).</summary>
    ConnectionTimeout = 9999,
}

/// <summary>One resource record of a response: its owner name, type, class and time to live.</summary>
internal abstract class DnsResourceRecord
{
    protected DnsResourceRecord(string domainName, QueryType recordType, int timeToLive)
    {
        DomainName = domainName;
        RecordType = recordType;
        TimeToLive = timeToLive;
    }

    /// <summary>The owner name, lower case, without the trailing dot.</summary>
    public string DomainName { get; }

    /// <summary>The record's type.</summary>
    public QueryType RecordType { get; }

    /// <summary>Seconds the record may be cached (0 to 2^31 - 1; RFC 2181 §8 reads larger values as 0).</summary>
    public int TimeToLive { get; }
}

/// <summary>An IPv4 address record.</summary>
internal sealed class ARecord(string domainName, int timeToLive, IPAddress address) : DnsResourceRecord(domainName, QueryType.A, timeToLive)
{
    /// <summary>The address.</summary>
    public IPAddress Address { get; } = address;

    /// <inheritdoc />
    public override string ToString() => $"{DomainName} {TimeToLive} A {Address}";
}

/// <summary>An IPv6 address record.</summary>
internal sealed class AaaaRecord(string domainName, int timeToLive, IPAddress address) : DnsResourceRecord(domainName, QueryType.AAAA, timeToLive)
{
    /// <summary>The address.</summary>
    public IPAddress Address { get; } = address;

    /// <inheritdoc />
    public override string ToString() => $"{DomainName} {TimeToLive} AAAA {Address}";
}

/// <summary>An alias record; the client follows it inside one response.</summary>
internal sealed class CNameRecord(string domainName, int timeToLive, string canonicalName) : DnsResourceRecord(domainName, QueryType.CNAME, timeToLive)
{
    /// <summary>The name the owner is an alias for.</summary>
    public string CanonicalName { get; } = canonicalName;

    /// <inheritdoc />
    public override string ToString() => $"{DomainName} {TimeToLive} CNAME {CanonicalName}";
}

/// <summary>A service location record (RFC 2782).</summary>
internal sealed class SrvRecord(string domainName, int timeToLive, ushort priority, ushort weight, ushort port, string target)
    : DnsResourceRecord(domainName, QueryType.SRV, timeToLive)
{
    /// <summary>Lower is preferred: clients use the lowest priority they can reach.</summary>
    public ushort Priority { get; } = priority;

    /// <summary>The relative weight among records of the same priority.</summary>
    public ushort Weight { get; } = weight;

    /// <summary>The TCP port.</summary>
    public ushort Port { get; } = port;

    /// <summary>The target host, lower case, without the trailing dot; empty for "." (the service is decidedly not available).</summary>
    public string Target { get; } = target;

    /// <inheritdoc />
    public override string ToString() => $"{DomainName} {TimeToLive} SRV {Priority} {Weight} {Port} {Target}.";
}

/// <summary>A record of a type this client does not interpret; kept so counts and sections stay faithful.</summary>
internal sealed class UnknownRecord(string domainName, QueryType recordType, int timeToLive) : DnsResourceRecord(domainName, recordType, timeToLive);
