using System.Net;

namespace Mesh.Client.Discovery.Dns;

/// <summary>A parsed reply to one question: header fields and the three record sections (DnsClient.NET's IDnsQueryResponse, reduced).</summary>
internal sealed class DnsQueryResponse
{
    public DnsQueryResponse(ushort id, DnsResponseCode code, bool truncated, IReadOnlyList<DnsResourceRecord> answers,
        IReadOnlyList<DnsResourceRecord> authorities, IReadOnlyList<DnsResourceRecord> additionals)
    {
        Id = id;
        Code = code;
        Truncated = truncated;
        Answers = answers;
        Authorities = authorities;
        Additionals = additionals;
    }

    /// <summary>The message id, equal to the query's.</summary>
    public ushort Id { get; }

    /// <summary>The header's response code.</summary>
    public DnsResponseCode Code { get; }

    /// <summary>Whether the TC bit was set (the answer did not fit; ask again over TCP).</summary>
    public bool Truncated { get; }

    /// <summary>Whether the response code is not <see cref="DnsResponseCode.NoError"/>.</summary>
    public bool HasError => Code != DnsResponseCode.NoError;

    /// <summary>The answer section.</summary>
    public IReadOnlyList<DnsResourceRecord> Answers { get; }

    /// <summary>The authority section.</summary>
    public IReadOnlyList<DnsResourceRecord> Authorities { get; }

    /// <summary>The additional section (servers often put the addresses of SRV targets here).</summary>
    public IReadOnlyList<DnsResourceRecord> Additionals { get; }

    /// <summary>The server that answered; set by the client.</summary>
    public IPEndPoint? NameServer { get; internal set; }

    /// <summary>The answers of type <typeparamref name="T"/>.</summary>
    public IEnumerable<T> AnswersOf<T>()
        where T : DnsResourceRecord
    {
        foreach (var record in Answers)
        {
            if (record is T typed)
            {
                yield return typed;
            }
        }
    }
}
