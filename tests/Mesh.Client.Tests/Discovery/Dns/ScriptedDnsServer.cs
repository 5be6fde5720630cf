using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace Mesh.Client.Tests.Discovery.Dns;

/// <summary>
/// A tiny DNS server on 127.0.0.1 (UDP and TCP on one OS-chosen port) whose replies a test scripts: garbage, truncated,
/// a wrong id, a wrong question, a compression loop... <see cref="Udp"/> and <see cref="Tcp"/> map a query to the
/// datagrams (or TCP message) to answer with.
/// </summary>
public sealed class ScriptedDnsServer : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly TcpListener _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private int _udpQueries;
    private int _tcpQueries;

    public ScriptedDnsServer(Func<byte[], IEnumerable<byte[]>> udp, Func<byte[], byte[]>? tcp = null)
    {
        Udp = udp;
        Tcp = tcp;
        (_udp, _tcp) = BindBoth();
        Port = ((IPEndPoint)_udp.LocalEndPoint!).Port;
        _udpLoop = Task.Run(UdpLoopAsync);
        _tcpLoop = Task.Run(TcpLoopAsync);
    }

    public int Port { get; }

    /// <summary>A UDP socket on a port the OS picks, and a TCP listener on the same port (retrying when TCP has it taken).</summary>
    private static (Socket Udp, TcpListener Tcp) BindBoth()
    {
        for (int attempt = 1; ; attempt++)
        {
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var tcp = new TcpListener(IPAddress.Loopback, ((IPEndPoint)udp.LocalEndPoint!).Port);
            try
            {
                tcp.Start();
                return (udp, tcp);
            }
            catch (SocketException) when (attempt < 20)
            {
                udp.Dispose();
            }
        }
    }

    public string Server => $"127.0.0.1:{Port}";

    public Func<byte[], IEnumerable<byte[]>> Udp { get; set; }

    public Func<byte[], byte[]>? Tcp { get; set; }

    public int UdpQueries => Volatile.Read(ref _udpQueries);

    public int TcpQueries => Volatile.Read(ref _tcpQueries);

    /// <summary>Completes when <paramref name="count"/> UDP queries have arrived in all (bounded by <see cref="WaitingObserver.Patience"/>).</summary>
    public Task WaitForUdpQueriesAsync(int count)
    {
        lock (_waiters)
        {
            if (_udpQueries >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task.WaitAsync(WaitingObserver.Patience);
        }
    }

    private async Task UdpLoopAsync()
    {
        var buffer = new byte[65535];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // an ICMP error from an earlier reply's client: keep serving
            }

            Interlocked.Increment(ref _udpQueries);
            lock (_waiters)
            {
                _waiters.RemoveAll(w => w.Count <= _udpQueries && w.Done.TrySetResult());
            }

            var query = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            foreach (var reply in Udp(query))
            {
                await _udp.SendToAsync(reply, SocketFlags.None, received.RemoteEndPoint);
            }
        }
    }

    private async Task TcpLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _tcp.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            using (client)
            {
                try
                {
                    await ServeTcpAsync(client);
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
                {
                    // A client that went away, or the server stopping: keep serving, or end below.
                }
            }
        }
    }

    private async Task ServeTcpAsync(TcpClient client)
    {
        var stream = client.GetStream();
        var prefix = new byte[2];
        await stream.ReadExactlyAsync(prefix, _stop.Token);
        var query = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await stream.ReadExactlyAsync(query, _stop.Token);
        Interlocked.Increment(ref _tcpQueries);
        if (Tcp?.Invoke(query) is { } reply)
        {
            var framed = new byte[reply.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
            reply.CopyTo(framed, 2);
            await stream.WriteAsync(framed, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Stop();
        await Task.WhenAll(_udpLoop, _tcpLoop).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}

/// <summary>Builds DNS replies byte by byte, including broken ones.</summary>
internal static class DnsReply
{
    /// <summary>The id of a query.</summary>
    public static ushort IdOf(byte[] query) => BinaryPrimitives.ReadUInt16BigEndian(query);

    /// <summary>The question section of a query (name, type, class), as bytes: not the EDNS OPT record that may follow it.</summary>
    public static byte[] QuestionOf(byte[] query) => query[12..(QuestionEnd(query))];

    /// <summary>The type a query asks for.</summary>
    public static QueryType TypeOf(byte[] query) => (QueryType)BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(QuestionEnd(query) - 4));

    /// <summary>The name a query asks for, lower case, without the trailing dot.</summary>
    public static string NameOf(byte[] query)
    {
        var labels = new List<string>();
        int offset = 12;
        while (query[offset] != 0)
        {
            labels.Add(System.Text.Encoding.ASCII.GetString(query, offset + 1, query[offset]).ToLowerInvariant());
            offset += 1 + query[offset];
        }

        return string.Join('.', labels);
    }

    /// <summary>Where a query's question (an uncompressed name, type and class) ends.</summary>
    private static int QuestionEnd(byte[] query)
    {
        int offset = 12;
        while (query[offset] != 0)
        {
            offset += 1 + query[offset];
        }

        return offset + 1 + 4;
    }

    /// <summary>Where the records of a reply built by <see cref="Build"/> for <paramref name="query"/> begin.</summary>
    public static int AnswersAt(byte[] query) => QuestionEnd(query);

    /// <summary>
    /// A reply to <paramref name="query"/>: header (id, flags, counts as given, or the real counts), the question, then
    /// <paramref name="records"/> (raw bytes). <paramref name="flags"/> default: QR, RD, RA, NOERROR.
    /// </summary>
    public static byte[] Build(byte[] query, IReadOnlyList<byte[]> records, ushort? id = null, ushort flags = 0x8180,
        ushort? answerCount = null, ushort questionCount = 1, byte[]? question = null)
    {
        var q = question ?? QuestionOf(query);
        var message = new List<byte>();
        var header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id ?? IdOf(query));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), flags);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), questionCount);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), answerCount ?? (ushort)records.Count);
        message.AddRange(header);
        message.AddRange(q);
        foreach (var record in records)
        {
            message.AddRange(record);
        }

        return [.. message];
    }

    /// <summary>An A record whose owner is a pointer to the question name (offset 12).</summary>
    public static byte[] A(string address, uint ttl = 30) =>
        Record([0xC0, 12], QueryType.A, ttl, IPAddress.Parse(address).GetAddressBytes());

    /// <summary>An SRV record whose owner is a pointer to the question name.</summary>
    public static byte[] Srv(ushort priority, ushort weight, ushort port, byte[] target, uint ttl = 30)
    {
        var data = new byte[6 + target.Length];
        BinaryPrimitives.WriteUInt16BigEndian(data, priority);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), weight);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4), port);
        target.CopyTo(data, 6);
        return Record([0xC0, 12], QueryType.SRV, ttl, data);
    }

    /// <summary>A resource record with owner bytes <paramref name="owner"/> and data <paramref name="data"/>.</summary>
    public static byte[] Record(byte[] owner, QueryType type, uint ttl, byte[] data, ushort? dataLength = null)
    {
        var record = new byte[owner.Length + 10 + data.Length];
        owner.CopyTo(record, 0);
        int o = owner.Length;
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(o), (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(o + 2), 1);
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(o + 4), ttl);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(o + 8), dataLength ?? (ushort)data.Length);
        data.CopyTo(record, o + 10);
        return record;
    }

    /// <summary>A name in wire form, uncompressed: <c>a.b</c> → 1 'a' 1 'b' 0.</summary>
    public static byte[] Name(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return [.. bytes];
    }
}
