using System.Net;
using Mesh.Client.Discovery.Dns;

namespace Mesh.Client.Tests.Discovery.Dns;

public sealed class DnsMessageTests
{
    private const ushort Id = 0x1234;
    private const string Name = "catalog.mesh.test";
    private static readonly byte[] Query = DnsMessage.WriteQuery(Id, Name, QueryType.A);
    private static readonly int AnswersAt = Query.Length; // the question ends where the answers begin

    private static DnsResponseException Rejects(byte[] reply, QueryType type = QueryType.A) =>
        Assert.Throws<DnsResponseException>(() => DnsMessage.Parse(reply, Id, Name, type));

    [Fact]
    public void Writes_a_recursive_query_with_one_question()
    {
        Assert.Equal(new byte[] { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, Query[..12]);
        Assert.Equal(DnsReply.Name(Name), Query[12..^4]);
        Assert.Equal(new byte[] { 0, 1, 0, 1 }, Query[^4..]);
    }

    [Fact]
    public void Parses_answers_whose_owner_is_a_compression_pointer()
    {
        var reply = DnsReply.Build(Query, [DnsReply.A("10.0.0.1", ttl: 42), DnsReply.A("10.0.0.2")]);

        var response = DnsMessage.Parse(reply, Id, Name, QueryType.A);

        var records = response.AnswersOf<ARecord>().ToList();
        Assert.Equal([IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")], records.Select(r => r.Address));
        Assert.All(records, r => Assert.Equal(Name, r.DomainName));
        Assert.Equal(42, records[0].TimeToLive);
        Assert.False(response.HasError);
    }

    [Fact]
    public void Parses_srv_records_with_a_compressed_target()
    {
        // Target "pod-1" + pointer to "mesh.test" inside the question name (offset 12 + 1 + 7 = 20).
        byte[] target = [5, (byte)'p', (byte)'o', (byte)'d', (byte)'-', (byte)'1', 0xC0, 20];
        var query = DnsMessage.WriteQuery(Id, Name, QueryType.SRV);
        var reply = DnsReply.Build(query, [DnsReply.Srv(priority: 1, weight: 7, port: 8080, target)]);

        var srv = Assert.Single(DnsMessage.Parse(reply, Id, Name, QueryType.SRV).AnswersOf<SrvRecord>());

        Assert.Equal((1, 7, 8080, "pod-1.mesh.test"), (srv.Priority, srv.Weight, srv.Port, srv.Target));
    }

    [Fact]
    public void Rejects_a_reply_shorter_than_a_header()
    {
        var error = Rejects([0x12, 0x34, 0x81]);
        Assert.Equal(DnsResponseCode.MalformedResponse, error.Code);
        Assert.Contains("shorter than a DNS header", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_reply_with_another_id()
    {
        var error = Rejects(DnsReply.Build(Query, [DnsReply.A("10.0.0.1")], id: Id + 1));
        Assert.Contains("does not match the query's id", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_reply_to_another_question()
    {
        var error = Rejects(DnsReply.Build(Query, [DnsReply.A("10.0.0.1")], question: [.. DnsReply.Name("evil.example"), 0, 1, 0, 1]));
        Assert.Contains("answers another question ('evil.example' A)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_message_that_is_a_query()
    {
        var error = Rejects(DnsReply.Build(Query, [], flags: 0x0100));
        Assert.Contains("QR bit clear", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_pointer_to_itself()
    {
        // The answer's owner is a pointer at AnswersAt that points at AnswersAt.
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([0xC0, (byte)AnswersAt], QueryType.A, 30, [10, 0, 0, 1])]));
        Assert.Contains("a loop", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_compression_loop_through_a_label()
    {
        // Owner: label "x" then a pointer back to that label's own start: x.x.x.x... forever.
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([1, (byte)'x', 0xC0, (byte)AnswersAt], QueryType.A, 30, [10, 0, 0, 1])]));
        Assert.Contains("a loop", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_pointer_outside_the_message()
    {
        // A pointer may only point backwards, so "outside" is caught where the target is past the end.
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([0xFF, 0xFF], QueryType.A, 30, [10, 0, 0, 1])]));
        Assert.Contains("outside the", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_reserved_label_types()
    {
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([0x40, 0], QueryType.A, 30, [10, 0, 0, 1])]));
        Assert.Contains("reserved type bits", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_counts_larger_than_the_message_before_reading_records()
    {
        var error = Rejects(DnsReply.Build(Query, [DnsReply.A("10.0.0.1")], answerCount: 65535));
        Assert.Contains("claims 65535 records", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_record_cut_short()
    {
        var full = DnsReply.Build(Query, [DnsReply.A("10.0.0.1"), DnsReply.A("10.0.0.2")]);
        var error = Rejects(full[..^3]);
        Assert.Contains("record 2 of 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_record_data_longer_than_the_message()
    {
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([0xC0, 12], QueryType.A, 30, [10, 0, 0, 1], dataLength: 400)]));
        Assert.Contains("claims 400 data bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_an_address_record_of_the_wrong_size()
    {
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([0xC0, 12], QueryType.A, 30, [10, 0, 0, 1, 9])]));
        Assert.Contains("an address has 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_name_longer_than_255_bytes()
    {
        // Five 63-byte labels: 320 bytes on the wire.
        var owner = new List<byte>();
        for (int i = 0; i < 5; i++)
        {
            owner.Add(63);
            owner.AddRange(Enumerable.Repeat((byte)'a', 63));
        }

        owner.Add(0);
        var error = Rejects(DnsReply.Build(Query, [DnsReply.Record([.. owner], QueryType.A, 30, [10, 0, 0, 1])]));
        Assert.Contains("longer than 255 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_a_truncated_reply_as_truncated_without_its_records()
    {
        var response = DnsMessage.Parse(DnsReply.Build(Query, [DnsReply.A("10.0.0.1")], flags: 0x8380), Id, Name, QueryType.A);
        Assert.True(response.Truncated);
        Assert.Empty(response.Answers);
    }

    [Fact]
    public void Reports_nxdomain_as_a_response_code_not_an_exception()
    {
        var response = DnsMessage.Parse(DnsReply.Build(Query, [], flags: 0x8183), Id, Name, QueryType.A);
        Assert.Equal(DnsResponseCode.NotExistentDomain, response.Code);
        Assert.True(response.HasError);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(123)]
    public void Never_throws_anything_but_DnsResponseException_on_random_bytes(int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            var reply = DnsReply.Build(Query, [DnsReply.A("10.0.0.1")]);
            // Corrupt a few bytes after the id, so the id check passes and the parser meets the damage.
            for (int j = 0; j < 1 + random.Next(4); j++)
            {
                reply[2 + random.Next(reply.Length - 2)] = (byte)random.Next(256);
            }

            try
            {
                DnsMessage.Parse(reply.AsSpan(0, random.Next(reply.Length + 1)), Id, Name, QueryType.A);
            }
            catch (DnsResponseException)
            {
            }
        }
    }

    [Theory]
    [InlineData("10.0.0.10", "10.0.0.10:53")]
    [InlineData("10.0.0.10:5353", "10.0.0.10:5353")]
    [InlineData("fd00::a", "[fd00::a]:53")]
    [InlineData("[fd00::a]:5353", "[fd00::a]:5353")]
    public void Parses_server_addresses(string text, string expected)
    {
        Assert.True(ResolvConf.TryParseServer(text, out var server));
        Assert.Equal(expected, server!.ToString());
    }

    [Fact]
    public void Reads_nameservers_from_resolv_conf_text()
    {
        var servers = ResolvConf.ParseNameServers("# comment\nsearch ns.svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::10\nnameserver bogus\noptions ndots:5\n");
        Assert.Equal(["10.96.0.10:53", "[fd00::10]:53"], servers.Select(s => s.ToString()));
    }
}
