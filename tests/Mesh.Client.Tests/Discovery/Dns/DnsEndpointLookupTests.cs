using System.Net;
using DnsClient;
using Mesh.Client.Discovery.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Client.Tests.Discovery.Dns;

/// <summary>One lookup (DnsEndpointLookup on DnsClient) against dnsmasq and the scripted server, without the watch around it.</summary>
public sealed class DnsEndpointLookupTests
{
    private static DnsEndpointLookup LookupFor(DnsServiceOptions service, params IPEndPoint[] servers)
    {
        // Every server here answers at once; the timeout only bounds a machine under load (DnsClient waits on the real clock).
        var options = new DnsResolverOptions { QueryTimeout = TimeSpan.FromSeconds(5), QueryRetries = 0 };
        var client = DnsEndpointResolver.CreateClient(options, servers);
        return new DnsEndpointLookup("catalog", "http", service, client, () => client, options.QueryTimeout, TimeProvider.System, NullLogger.Instance);
    }

    private static IPEndPoint EndPointOf(ScriptedDnsServer server) => new(IPAddress.Loopback, server.Port);

    [Fact]
    public async Task Resolves_every_a_and_aaaa_address_and_srv_priority_and_weight_from_dnsmasq()
    {
        await using var dns = await DnsmasqServer.StartAsync(
            new Dictionary<string, string[]> { ["catalog"] = ["10.1.0.1", "10.1.0.2", "fd00::1"], ["pod-1"] = ["10.1.0.7"], ["pod-2"] = ["10.1.0.8"] },
            [
                new SrvEntry("_http._tcp.catalog", "pod-1", 8080, Priority: 1, Weight: 5),
                new SrvEntry("_http._tcp.catalog", "pod-2", 8081, Priority: 0, Weight: 0),
            ]);

        var addresses = await LookupFor(new DnsServiceOptions { HostName = "catalog.mesh.test", Port = 9000 }, dns.EndPoint).ResolveAsync(CancellationToken.None);
        var srv = await LookupFor(new DnsServiceOptions { SrvName = "_http._tcp.catalog.mesh.test" }, dns.EndPoint).ResolveAsync(CancellationToken.None);
        var missing = await Assert.ThrowsAsync<DnsResponseException>(() =>
            LookupFor(new DnsServiceOptions { HostName = "nope.mesh.test" }, dns.EndPoint).ResolveAsync(CancellationToken.None));

        Assert.Equal(["http://10.1.0.1:9000", "http://10.1.0.2:9000", "http://[fd00::1]:9000"], addresses.Select(e => e.Key));
        Assert.Equal(["http://10.1.0.8:8081 p0 w1", "http://10.1.0.7:8080 p1 w5"], srv.Select(e => $"{e.Key} p{e.Priority} w{e.Weight}"));
        Assert.Equal(DnsResponseCode.NotExistentDomain, missing.Code);
        Assert.Contains($"'nope.mesh.test' does not exist (NXDOMAIN from {dns.EndPoint}", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asks_again_over_tcp_when_the_udp_reply_is_truncated()
    {
        await using var server = new ScriptedDnsServer(
            udp: q => [DnsReply.Build(q, [], flags: 0x8380)], // TC set, no records
            tcp: q => DnsReply.Build(q, [DnsReply.A("10.2.0.1"), DnsReply.A("10.2.0.2")]));

        var endpoints = await LookupFor(new DnsServiceOptions { HostName = "big.mesh.test", AddressFamily = DnsAddressFamily.IPv4 }, EndPointOf(server))
            .ResolveAsync(CancellationToken.None);

        Assert.Equal(["http://10.2.0.1:80", "http://10.2.0.2:80"], endpoints.Select(e => e.Key));
        Assert.Equal((1, 1), (server.UdpQueries, server.TcpQueries));
    }

    [Fact]
    public async Task Asks_the_configured_servers_in_order_moving_on_after_servfail()
    {
        await using var failing = new ScriptedDnsServer(q => [DnsReply.Build(q, [], flags: 0x8182)]);
        await using var working = new ScriptedDnsServer(q => [DnsReply.Build(q, [DnsReply.A("10.4.0.1")])]);

        for (int i = 0; i < 5; i++)
        {
            var endpoints = await LookupFor(new DnsServiceOptions { AddressFamily = DnsAddressFamily.IPv4 }, EndPointOf(failing), EndPointOf(working))
                .ResolveAsync(CancellationToken.None);
            Assert.Equal("http://10.4.0.1:80", Assert.Single(endpoints).Key);
        }

        Assert.Equal((5, 5), (failing.UdpQueries, working.UdpQueries)); // the first server first, every time
    }

    [Fact]
    public async Task Never_hangs_nor_throws_anything_but_DnsResponseException_on_corrupted_replies()
    {
        var random = new Random(20261201);
        byte[]? damaged = null;
        byte[] WithIdOf(byte[] q)
        {
            var reply = Volatile.Read(ref damaged)!.ToArray();
            q.AsSpan(0, 2).CopyTo(reply); // the id matches: the parser meets the damage
            return reply;
        }

        await using var server = new ScriptedDnsServer(q => [WithIdOf(q)], tcp: WithIdOf);
        var lookup = LookupFor(new DnsServiceOptions { HostName = "catalog.mesh.test", AddressFamily = DnsAddressFamily.IPv4 }, EndPointOf(server));
        var query = BuildQuery("catalog.mesh.test");
        int failures = 0;
        for (int i = 0; i < 300; i++)
        {
            // A good reply with a few bytes after the id changed, maybe cut short: the id matches, the parser meets the damage.
            var reply = DnsReply.Build(query, [DnsReply.A("10.0.0.1"), DnsReply.Srv(1, 2, 3, DnsReply.Name("x.mesh.test"))]);
            for (int j = 0; j < 1 + random.Next(4); j++)
            {
                reply[2 + random.Next(reply.Length - 2)] = (byte)random.Next(256);
            }

            Volatile.Write(ref damaged, reply[..Math.Max(2, random.Next(reply.Length + 1))]);
            try
            {
                // Bounded: a lookup that hangs fails the test here (the server answers at once; DnsClient's timeout is 5 s).
                await lookup.ResolveAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (DnsResponseException)
            {
                failures++;
            }
        }

        Assert.InRange(failures, 1, 300); // damage was met (any other exception type fails the test above)
    }

    /// <summary>A query as DnsClient writes it, for building replies ahead of time (id 0: the server copies the real one).</summary>
    private static byte[] BuildQuery(string name)
    {
        var bytes = new List<byte> { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
        bytes.AddRange(DnsReply.Name(name));
        bytes.AddRange(new byte[] { 0, 1, 0, 1 });
        return [.. bytes];
    }

    [Theory]
    [InlineData("10.0.0.10", "10.0.0.10:53")]
    [InlineData("10.0.0.10:5353", "10.0.0.10:5353")]
    [InlineData("fd00::a", "[fd00::a]:53")]
    [InlineData("[fd00::a]:5353", "[fd00::a]:5353")]
    public void Parses_server_addresses(string text, string expected)
    {
        Assert.True(DnsResolverOptions.TryParseServer(text, out var server));
        Assert.Equal(expected, server.ToString());
    }
}
