using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Mesh.Client.Discovery.Dns;

/// <summary>Asks DNS one question (DnsClient.NET's IDnsQuery, reduced): the seam a DNS library could replace.</summary>
internal interface IDnsQuery
{
    /// <summary>
    /// Asks for the <paramref name="type"/> records of <paramref name="query"/>. A reply with an error code such as
    /// NXDOMAIN is returned (see <see cref="DnsQueryResponse.HasError"/>); a reply that breaks the protocol, or no reply
    /// in time from any server, throws <see cref="DnsResponseException"/>.
    /// </summary>
    Task<DnsQueryResponse> QueryAsync(string query, QueryType type, CancellationToken cancellationToken = default);
}

/// <summary>
/// A small stub resolver: UDP with a fresh socket (random source port) and a random id per try, TCP when the reply is
/// truncated, every server in order, <see cref="LookupClientOptions.Retries"/> more rounds, each try bounded by
/// <see cref="LookupClientOptions.Timeout"/> on the given <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// Datagrams whose id is not the query's are dropped and the wait goes on (a late reply to an earlier try, or a spoofing
/// attempt must not end a query); a reply with the right id that is malformed or answers another question ends the try
/// with <see cref="DnsResponseCode.MalformedResponse"/>. SERVFAIL and REFUSED move on to the next server.
/// </remarks>
internal sealed class LookupClient : IDnsQuery
{
    private const int MaxMessage = 65535;

    private readonly IReadOnlyList<IPEndPoint> _servers;
    private readonly LookupClientOptions _options;
    private readonly TimeProvider _timeProvider;

    public LookupClient(LookupClientOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _servers = options.NameServers.Count > 0 ? options.NameServers : ResolvConf.ReadNameServers();
    }

    /// <summary>The servers this client asks, in order.</summary>
    public IReadOnlyList<IPEndPoint> NameServers => _servers;

    /// <inheritdoc />
    public async Task<DnsQueryResponse> QueryAsync(string query, QueryType type, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(query);
        if (_servers.Count == 0)
        {
            throw new DnsResponseException(DnsResponseCode.ConnectionTimeout,
                $"DNS query for '{query}' {type} has no server to ask: none is configured and {ResolvConf.DefaultPath} lists none.");
        }

        DnsResponseException? last = null;
        int tries = 0;
        for (int round = 0; round <= _options.Retries; round++)
        {
            foreach (var server in _servers)
            {
                cancellationToken.ThrowIfCancellationRequested();
                tries++;
                try
                {
                    var response = await QueryServerAsync(server, query, type, cancellationToken).ConfigureAwait(false);
                    if (response.Code is DnsResponseCode.ServerFailure or DnsResponseCode.Refused or DnsResponseCode.NotImplemented or DnsResponseCode.FormatError)
                    {
                        last = new DnsResponseException(response.Code, $"server {server} answered {response.Code}");
                        continue;
                    }

                    return response;
                }
                catch (DnsResponseException ex)
                {
                    last = ex;
                }
                catch (SocketException ex)
                {
                    last = new DnsResponseException(DnsResponseCode.ConnectionTimeout, $"server {server}: {ex.Message}", ex);
                }
            }
        }

        throw new DnsResponseException(last!.Code,
            $"DNS query for '{query}' {type} failed after {tries} {(tries == 1 ? "try" : "tries")}; last: {last.Message}", last);
    }

    private async Task<DnsQueryResponse> QueryServerAsync(IPEndPoint server, string query, QueryType type, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.Timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var dropped = new StrongBox<int>();
        try
        {
            var response = await QueryUdpAsync(server, query, type, dropped, linked.Token).ConfigureAwait(false);
            if (response.Truncated && _options.UseTcpFallback)
            {
                response = await QueryTcpAsync(server, query, type, linked.Token).ConfigureAwait(false);
            }

            response.NameServer = server;
            return response;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new DnsResponseException(DnsResponseCode.ConnectionTimeout,
                $"server {server} did not answer within {_options.Timeout.TotalMilliseconds:0} ms"
                + (dropped.Value > 0 ? $" ({dropped.Value} replies with a wrong id were dropped)" : string.Empty));
        }
        catch (DnsResponseException ex) when (ex.Code == DnsResponseCode.MalformedResponse)
        {
            throw new DnsResponseException(ex.Code, $"server {server}: {ex.Message}", ex);
        }
    }

    private static async Task<DnsQueryResponse> QueryUdpAsync(IPEndPoint server, string query, QueryType type, StrongBox<int> dropped,
        CancellationToken cancellationToken)
    {
        ushort id = NewId();
        var message = DnsMessage.WriteQuery(id, query, type);
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        // Connected: the kernel drops datagrams from any other address, and the OS picks a random source port.
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(message, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(MaxMessage);
        try
        {
            while (true)
            {
                int received = await socket.ReceiveAsync(buffer.AsMemory(0, MaxMessage), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                // Another id (or too short to carry one): not our reply. Ours, however broken, is parsed and judged.
                if (received < 2 || BinaryPrimitives.ReadUInt16BigEndian(buffer) != id)
                {
                    dropped.Value++;
                    continue;
                }

                return DnsMessage.Parse(buffer.AsSpan(0, received), id, query, type);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<DnsQueryResponse> QueryTcpAsync(IPEndPoint server, string query, QueryType type, CancellationToken cancellationToken)
    {
        ushort id = NewId();
        var message = DnsMessage.WriteQuery(id, query, type);
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        var framed = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        await socket.SendAsync(framed, SocketFlags.None, cancellationToken).ConfigureAwait(false);

        var lengthPrefix = new byte[2];
        await ReceiveExactlyAsync(socket, lengthPrefix, server, cancellationToken).ConfigureAwait(false);
        int length = BinaryPrimitives.ReadUInt16BigEndian(lengthPrefix);
        var reply = new byte[length];
        await ReceiveExactlyAsync(socket, reply, server, cancellationToken).ConfigureAwait(false);
        var response = DnsMessage.Parse(reply, id, query, type);
        return response.Truncated
            ? throw new DnsResponseException(DnsResponseCode.MalformedResponse, "Malformed DNS reply: a TCP reply has the truncation bit set.")
            : response;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, IPEndPoint server, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new DnsResponseException(DnsResponseCode.MalformedResponse,
                    $"Malformed DNS reply: server {server} closed the TCP connection after {read} of {buffer.Length} bytes.");
            }

            read += n;
        }
    }

    private static ushort NewId() => (ushort)RandomNumberGenerator.GetInt32(0, 65536);
}
