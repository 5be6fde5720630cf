using System.Net;
using Mesh.Client.Discovery.Dns;

namespace Mesh.Client.Tests.Discovery.Dns;

public sealed class LookupClientTests
{
    private static LookupClient ClientFor(params IPEndPoint[] servers) =>
        new(new LookupClientOptions(servers) { Timeout = TimeSpan.FromSeconds(1), Retries = 0 });

    private static IPEndPoint EndPointOf(ScriptedDnsServer server) => new(IPAddress.Loopback, server.Port);

    [Fact]
    public async Task Resolves_a_aaaa_and_srv_records_from_dnsmasq()
    {
        await using var dns = await DnsmasqServer.StartAsync(
            new Dictionary<string, string[]> { ["catalog"] = ["10.1.0.1", "10.1.0.2", "fd00::1"], ["pod-1"] = ["10.1.0.7"] },
            [new SrvEntry("_http._tcp.catalog", "pod-1", 8080, Priority: 1, Weight: 5)]);
        var client = new LookupClient(new LookupClientOptions(dns.EndPoint));

        var a = await client.QueryAsync("catalog.mesh.test", QueryType.A);
        var aaaa = await client.QueryAsync("catalog.mesh.test", QueryType.AAAA);
        var srv = await client.QueryAsync("_http._tcp.catalog.mesh.test", QueryType.SRV);
        var missing = await client.QueryAsync("nope.mesh.test", QueryType.A);

        Assert.Equal(["10.1.0.1", "10.1.0.2"], a.AnswersOf<ARecord>().Select(r => r.Address.ToString()).Order());
        Assert.Equal(["fd00::1"], aaaa.AnswersOf<AaaaRecord>().Select(r => r.Address.ToString()));
        var record = Assert.Single(srv.AnswersOf<SrvRecord>());
        Assert.Equal((1, 5, 8080, "pod-1.mesh.test"), (record.Priority, record.Weight, record.Port, record.Target));
        Assert.Equal(DnsResponseCode.NotExistentDomain, missing.Code);
        Assert.Equal(dns.EndPoint, a.NameServer);
    }

    [Fact]
    public async Task Asks_again_over_tcp_when_the_udp_reply_is_truncated()
    {
        await using var server = new ScriptedDnsServer(
            udp: q => [DnsReply.Build(q, [], flags: 0x8380)], // TC set, no records
            tcp: q => DnsReply.Build(q, [DnsReply.A("10.2.0.1"), DnsReply.A("10.2.0.2")]));

        var response = await ClientFor(EndPointOf(server)).QueryAsync("big.mesh.test", QueryType.A);

        Assert.Equal(["10.2.0.1", "10.2.0.2"], response.AnswersOf<ARecord>().Select(r => r.Address.ToString()));
        Assert.Equal((1, 1), (server.UdpQueries, server.TcpQueries));
    }

    [Fact]
    public async Task Drops_replies_with_a_wrong_id_and_takes_the_right_one_that_follows()
    {
        await using var server = new ScriptedDnsServer(q =>
        [
            DnsReply.Build(q, [DnsReply.A("6.6.6.6")], id: (ushort)(DnsReply.IdOf(q) ^ 0xFFFF)),
            DnsReply.Build(q, [DnsReply.A("10.3.0.1")]),
        ]);

        var response = await ClientFor(EndPointOf(server)).QueryAsync("svc.mesh.test", QueryType.A);

        Assert.Equal("10.3.0.1", Assert.Single(response.AnswersOf<ARecord>()).Address.ToString());
    }

    [Fact]
    public async Task Times_out_with_a_clear_error_when_every_reply_has_a_wrong_id()
    {
        await using var server = new ScriptedDnsServer(q => [DnsReply.Build(q, [DnsReply.A("6.6.6.6")], id: (ushort)(DnsReply.IdOf(q) + 1))]);
        var client = new LookupClient(new LookupClientOptions(EndPointOf(server)) { Timeout = TimeSpan.FromMilliseconds(500), Retries = 1 });

        var error = await Assert.ThrowsAsync<DnsResponseException>(() => client.QueryAsync("svc.mesh.test", QueryType.A));

        // (The message also counts the dropped replies when they arrived within the timeout; on a loaded machine they
        // may not, so that part is not asserted here.)
        Assert.Equal(DnsResponseCode.ConnectionTimeout, error.Code);
        Assert.Contains($"DNS query for 'svc.mesh.test' A failed after 2 tries; last: server 127.0.0.1:{server.Port} did not answer within 500 ms", error.Message, StringComparison.Ordinal);
        await server.WaitForUdpQueriesAsync(2); // both tries reached the server
    }

    [Fact]
    public async Task Reports_garbage_as_a_malformed_reply_naming_the_server()
    {
        await using var server = new ScriptedDnsServer(q => [[.. q[..2], 0x81, 0x80, 0, 1, 0, 200, 0, 0, 0, 0, 0xC0]]);

        var error = await Assert.ThrowsAsync<DnsResponseException>(() => ClientFor(EndPointOf(server)).QueryAsync("svc.mesh.test", QueryType.A));

        Assert.Equal(DnsResponseCode.MalformedResponse, error.Code);
        Assert.Contains($"server 127.0.0.1:{server.Port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Malformed DNS reply", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Moves_on_to_the_next_server_after_servfail()
    {
        await using var failing = new ScriptedDnsServer(q => [DnsReply.Build(q, [], flags: 0x8182)]);
        await using var working = new ScriptedDnsServer(q => [DnsReply.Build(q, [DnsReply.A("10.4.0.1")])]);

        var response = await ClientFor(EndPointOf(failing), EndPointOf(working)).QueryAsync("svc.mesh.test", QueryType.A);

        Assert.Equal("10.4.0.1", Assert.Single(response.AnswersOf<ARecord>()).Address.ToString());
        Assert.Equal((1, 1), (failing.UdpQueries, working.UdpQueries));
    }

    [Fact]
    public async Task Uses_a_new_random_id_for_every_try()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<ushort>();
        await using var server = new ScriptedDnsServer(q =>
        {
            ids.Add(DnsReply.IdOf(q));
            return [DnsReply.Build(q, [DnsReply.A("10.5.0.1")])];
        });
        var client = ClientFor(EndPointOf(server));

        for (int i = 0; i < 20; i++)
        {
            await client.QueryAsync("svc.mesh.test", QueryType.A);
        }

        Assert.True(ids.Distinct().Count() >= 18, $"ids: {string.Join(", ", ids)}");
    }
}
