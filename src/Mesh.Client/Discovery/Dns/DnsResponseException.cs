namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// A DNS query failed: no server answered in time, a reply broke the protocol (truncated, a compression loop, a pointer
/// out of range, counts larger than the message, the wrong question), or the server returned an error code. The
/// message says which, naming the query and the server.
/// </summary>
internal sealed class DnsResponseException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsResponseException(DnsResponseCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>The server's response code, or one of this client's own codes.</summary>
    public DnsResponseCode Code { get; }
}
